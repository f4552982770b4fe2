/**
 * A broker that hangs up on the CONNECT without a CONNACK. RabbitMQ 3.10 does
 * that to every MQTT 5 CONNECT (its log: "MQTT cannot parse a frame …
 * function_clause", then the socket closed; bench/rabbitmq-failover.mjs shows
 * it), and MQTT.js reports no error for it: an agent left at protocol version
 * 5 stayed offline with an empty log. The stand-in broker here reads the
 * CONNECT and closes, as RabbitMQ does.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackTransport, until } from '../helpers/transport.js';
import type { MqttTransport } from '../../src/transport/mqtt.js';

interface Line {
  level: number;
  msg: string;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A listener that reads what a client sends first, then closes the socket; counts the hang-ups. */
async function hangingUpBroker(onHangUp: () => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.once('data', () => {
      s.destroy();
      onHangUp();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

async function logAfterHangUps(protocolVersion: 4 | 5, hangUps: number): Promise<Line[]> {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      done();
    },
  });
  let seen = 0;
  let check = (): void => undefined;
  const port = await hangingUpBroker(() => {
    seen++;
    check();
  });
  const t: MqttTransport = loopbackTransport(port, 'dev2mqtt_hangup', 0, { protocolVersion }, pino({ level: 'info' }, sink));
  cleanup.push(() => t.stop(1000));
  t.start({ connected: () => undefined, disconnected: () => undefined, message: () => undefined });
  // A few attempts: the reason is said once, not once per attempt.
  await until(
    () => seen >= hangUps,
    (c) => (check = c),
  );
  await t.stop(1000);
  return lines;
}

describe('a broker that closes the connection before its CONNACK', () => {
  it('at MQTT 5: says once, as an error, to set mqtt.protocolVersion to 4', async () => {
    const lines = await logAfterHangUps(5, 3);
    const said = lines.filter((l) => /without answering our MQTT 5 CONNECT/.test(l.msg));
    expect(said).toHaveLength(1);
    expect(said[0]?.level).toBe(50);
    expect(said[0]?.msg).toMatch(/mqtt\.protocolVersion to 4/);
  });

  it('at MQTT 3.1.1: says the broker hung up, without the version advice', async () => {
    const lines = await logAfterHangUps(4, 3);
    const said = lines.filter((l) => /closed the connection without answering our CONNECT/.test(l.msg));
    expect(said).toHaveLength(1);
    expect(said[0]?.msg).not.toMatch(/protocolVersion/);
  });
});
