/**
 * A persistent session's queued QoS 1 messages can arrive in the same read as
 * the CONNACK. MQTT.js then emits them (and sends their PUBACKs) before its
 * `connect` event's listeners, or the code after `connectAsync`, can add a
 * `message` listener: a client that listens only once connected loses them for
 * good, and the broker counts them delivered. On a three-node RabbitMQ cluster
 * this looked like a queued command not following its session to a surviving
 * node (bench/rabbitmq-failover.mjs, docs/brokers.md); on mosquitto it loses
 * most such messages too. The stand-in broker here answers the CONNECT with
 * the CONNACK and one queued PUBLISH in a single write, so it happens every
 * time, and records the PUBACK.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/mqtt-client.js';
import { loopbackTransport, until } from '../helpers/transport.js';
import type { InboundMessage } from '../../src/transport/transport.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const TOPIC = 'dev2mqtt/n1/led0/cmd/set';
const PAYLOAD = '{"id":"queued-1","state":"ON"}';

/** MQTT 3.1.1 PUBLISH, QoS 1, packet id 1. */
function queuedPublish(): Buffer {
  const topic = Buffer.from(TOPIC);
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([0, 1]), Buffer.from(PAYLOAD)]);
  return Buffer.concat([Buffer.from([0x32, body.length]), body]);
}

/** Answers a CONNECT with CONNACK (session present) + the queued PUBLISH in one write, until it is acknowledged. */
async function sessionBroker(onPuback: () => void = () => undefined): Promise<{ port: number; pubacks: () => number }> {
  let pubacks = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    let answered = false;
    s.on('data', (d) => {
      if (!answered && d[0] === 0x10) {
        answered = true;
        // Queued once, as a broker does: acknowledged, it is gone from the session.
        s.write(Buffer.concat([Buffer.from([0x20, 0x02, 0x01, 0x00]), ...(pubacks === 0 ? [queuedPublish()] : [])]));
      }
      // PUBACK for packet id 1 (anything else a client sends, SUBSCRIBE or PINGREQ, is left unanswered).
      for (let i = 0; i + 3 < d.length; i++)
        if (d[i] === 0x40 && d[i + 1] === 2 && d[i + 2] === 0 && d[i + 3] === 1) {
          pubacks++;
          onPuback();
        }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, pubacks: () => pubacks };
}

describe('a QoS 1 message queued in the session, arriving with the CONNACK', () => {
  it("reaches the agent's transport, which listens before it connects", async () => {
    let check = (): void => undefined;
    const broker = await sessionBroker(() => check());
    const got: InboundMessage[] = [];
    const t = loopbackTransport(broker.port, 'dev2mqtt_n1');
    cleanup.push(() => t.stop(1000));
    t.start({ connected: () => undefined, disconnected: () => undefined, message: (m) => got.push(m) });
    await until(
      () => broker.pubacks() > 0,
      (c) => (check = c),
    );
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ topic: TOPIC, qos: 1 });
    expect(got[0]?.payload.toString()).toBe(PAYLOAD);
  });

  it('reaches the tests’ own client (TestClient.connect), not only a PUBACK', async () => {
    let check = (): void => undefined;
    const broker = await sessionBroker(() => check());
    const c = await TestClient.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'operator', clean: false, reconnectPeriod: 0 });
    cleanup.push(() => c.end());
    // MQTT.js acknowledges what it emitted: once the broker has the PUBACK, a message not recorded is lost.
    await until(
      () => broker.pubacks() > 0,
      (c) => (check = c),
    );
    expect(c.messages.map((m) => m.payload)).toEqual([PAYLOAD]);
  });
});
