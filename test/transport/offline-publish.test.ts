/**
 * QoS 1 publishes made while the agent is disconnected go out exactly once
 * after the reconnect: MQTT.js keeps an offline store of its own, and the
 * agent has two queues beside it (the transport's outbox, the telemetry
 * offline buffer); if two of them sent the same message, a subscriber would
 * get it twice. The broker is aedes with two listeners: the agent's, which
 * the test drops and brings back, and a subscriber's, which stays up and
 * counts every copy it receives. The agent's connection is also held at its
 * CONNECT for a while, so publishes land in the store MQTT.js replays itself
 * after the CONNACK, not only in the one the transport throws away.
 */
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/mosquitto.js';
import { droppableListener, eventTelemetry, loopbackTransport, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('publishes made while disconnected', () => {
  for (const qos2InFlight of [false, true]) {
    const when = qos2InFlight
      ? 'with a QoS 2 publish waiting too (MQTT.js keeps its store)'
      : 'QoS 1 only (the transport starts MQTT.js afresh)';
    it(`reach a subscriber exactly once after the reconnect, results and replayed events, in order: ${when}`, async () => {
      let onChange = (): void => undefined;
      const changed = (): void => onChange();
      const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));

      // The agent's CONNECT is held (no CONNACK) while `holdConnect` is set.
      let holdConnect = false;
      let heldConnect: (() => void) | undefined;
      // The first copy of `inflight` is never acknowledged (nor passed on): it is on its way when the link goes.
      let inflightSeen = false;
      const aedes = new Aedes({
        authenticate: (client, _user, _password, done) => {
          if (client.id !== 'xo-agent' || !holdConnect) return done(null, true);
          heldConnect = () => done(null, true);
          changed();
        },
        authorizePublish: (_client, packet, done) => {
          if (packet.topic !== 'xo/n1/dev/result/inflight' || inflightSeen) return done(null);
          inflightSeen = true;
          changed();
        },
      });
      await aedes.listen();
      const agentPort = await freePort();
      const agentSide = droppableListener(aedes, agentPort);
      const subscriberPort = await freePort();
      const subscriberSide = droppableListener(aedes, subscriberPort);
      await agentSide.up();
      await subscriberSide.up();
      cleanup.push(async () => {
        await agentSide.down();
        await subscriberSide.down();
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
      });

      const received: string[] = [];
      const subscriber = mqtt.connect(`mqtt://127.0.0.1:${subscriberPort}`, { clientId: 'xo-sub', reconnectPeriod: 0 });
      cleanup.push(() => new Promise<void>((resolve) => subscriber.end(true, {}, () => resolve())));
      subscriber.on('message', (_topic, payload) => {
        const p = JSON.parse(payload.toString()) as { n?: number; r?: string; end?: boolean };
        received.push(p.r ?? (p.end ? 'end' : `e${String(p.n)}`));
        changed();
      });
      await subscriber.subscribeAsync('xo/#', { qos: 1 });

      const transport = loopbackTransport(agentPort, 'xo-agent');
      const telemetry = eventTelemetry(transport, 'xo', { maxMessages: 1000, maxBytes: 1 << 20, spill: false, spillMaxBytes: 0 });
      let connects = 0;
      let disconnects = 0;
      let replays = 0;
      transport.start({
        message: () => undefined,
        connected: () => {
          connects++;
          changed();
          void telemetry.resume().then((done) => {
            if (done) replays++;
            changed();
          });
        },
        disconnected: () => {
          disconnects++;
          telemetry.pause();
          changed();
        },
      });
      cleanup.push(() => {
        telemetry.stop();
        return transport.stop(1000);
      });
      await wait(() => replays === 1);

      let n = 0;
      const results: Array<Promise<void>> = [];
      const result = (r: string, qos: 1 | 2 = 1): void =>
        void results.push(transport.publish(`xo/n1/dev/result/${r}`, JSON.stringify({ r }), { qos }));
      const edge = (): void => telemetry.event('in0', 'edge', { n: n++ });

      // Live: one result, one event.
      result('live');
      edge();
      await wait(() => received.length === 2);

      // One result the broker has not acknowledged when the link goes.
      result('inflight');
      await wait(() => inflightSeen);

      // Away: the agent's listener is gone; results go to the outbox (and MQTT.js), events to the offline buffer.
      await agentSide.down();
      await wait(() => disconnects === 1);
      for (let i = 0; i < 5; i++) {
        result(`away${i}`);
        edge();
      }
      if (qos2InFlight) result('away-qos2', 2);

      // Back, but the CONNECT is held: MQTT.js is connecting with the store it replays after the CONNACK.
      holdConnect = true;
      await agentSide.up();
      await wait(() => heldConnect !== undefined);
      for (let i = 0; i < 5; i++) {
        result(`connecting${i}`);
        edge();
      }
      holdConnect = false;
      heldConnect?.();
      await wait(() => replays === 2);
      await Promise.all(results);

      // A last publish on the same connection: once the subscriber has it, every copy sent before it has arrived.
      await transport.publish('xo/n1/dev/result/end', JSON.stringify({ end: true }), { qos: 1 });
      await wait(() => received.includes('end'));

      const isEvent = (m: string): boolean => /^e\d+$/.test(m);
      const copies = new Map<string, number>();
      for (const m of received) copies.set(m, (copies.get(m) ?? 0) + 1);
      expect([...copies].filter(([, c]) => c !== 1)).toEqual([]);
      // QoS 1 results in the order they were published (MQTT orders a client's publishes per QoS only).
      expect(
        received.filter((m) => !isEvent(m) && m !== 'away-qos2'),
        received.join(' '),
      ).toEqual(['live', 'inflight', ...[0, 1, 2, 3, 4].map((i) => `away${i}`), ...[0, 1, 2, 3, 4].map((i) => `connecting${i}`), 'end']);
      expect(copies.get('away-qos2')).toBe(qos2InFlight ? 1 : undefined);
      expect(received.filter(isEvent)).toEqual([...Array(n).keys()].map((i) => `e${i}`));
      expect(connects).toBe(2);
    });
  }

  it('a stop while MQTT.js still replays a QoS 2 publish after the reconnect still sends the retained `offline` (and no DISCONNECT hides it)', async () => {
    let onChange = (): void => undefined;
    const changed = (): void => onChange();
    const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));

    // The QoS 2 publish is held (no PUBREC) on the first connection and again when MQTT.js replays it.
    const qos2Topic = 'so/n1/dev/result/qos2';
    const status = 'so-agent/status';
    let qos2Seen = 0;
    let releaseQos2: (() => void) | undefined;
    // The first `online` is not acknowledged either: it is in MQTT.js's store when the link goes.
    let onlineSeen = 0;
    const aedes = new Aedes({
      authorizePublish: (_client, packet, done) => {
        if (packet.topic === status && packet.payload.toString() === 'online' && onlineSeen++ === 0) return changed();
        if (packet.topic !== qos2Topic) return done(null);
        qos2Seen++;
        releaseQos2 = () => done(null);
        changed();
      },
    });
    await aedes.listen();
    const port = await freePort();
    const listener = droppableListener(aedes, port);
    await listener.up();
    cleanup.push(async () => {
      await listener.down();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    });

    const transport = loopbackTransport(port, 'so-agent');
    let connects = 0;
    let disconnects = 0;
    transport.start({
      message: () => undefined,
      connected: () => {
        connects++;
        changed();
      },
      disconnected: () => {
        disconnects++;
        changed();
      },
    });
    cleanup.push(() => transport.stop(1000));
    await wait(() => connects === 1);
    // MQTT.js replays its store in this order, one at a time: `online` first, then the QoS 2 publish.
    void transport.publish(status, 'online', { qos: 1, retain: true }).catch(() => undefined);
    void transport.publish(qos2Topic, '{}', { qos: 2 }).catch(() => undefined);
    await wait(() => qos2Seen === 1 && onlineSeen === 1);

    // The link goes (the broker publishes the will, `offline`) with the QoS 2 exchange open: MQTT.js keeps its store
    // and replays it after the next CONNACK (`online` taken this time), and emits `connect` only once the broker has
    // completed the QoS 2 exchange.
    await listener.down();
    await wait(() => disconnects === 1);
    await listener.up();
    await wait(() => qos2Seen === 2 && onlineSeen === 2);
    expect(transport.connected).toBe(true);
    expect(connects).toBe(1);

    // What the agent does on SIGTERM now: `offline` (it is connected), then the transport's stop.
    void transport.publish(status, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    const stopped = transport.stop(30_000);
    releaseQos2?.();
    await stopped;

    const reader = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'so-reader', reconnectPeriod: 0 });
    cleanup.push(() => new Promise<void>((resolve) => reader.end(true, {}, () => resolve())));
    const retained = new Promise<string>((resolve) => reader.once('message', (_t, payload) => resolve(payload.toString())));
    await reader.subscribeAsync(status, { qos: 1 });
    expect(await retained).toBe('offline');
  });
});
