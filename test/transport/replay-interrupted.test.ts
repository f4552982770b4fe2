/**
 * Events the broker never confirmed, and then a stop while the link is down:
 * nothing may be gone without a word. With a spill
 * (`telemetry.offlineBuffer.spill`) the next run publishes all of it, in
 * order; without one, the stop counts it as dropped and says so. The cases:
 * the offline buffer's replay cut short twice (the second replay must not
 * take more while the first batch is unconfirmed), and events published live
 * just before the link went. The broker is aedes, which takes the agent's
 * events but holds their PUBACKs while the test says so; the test cuts the
 * agent's listener.
 */
import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/temp.js';
import { cuttableBroker, droppableListener, eventTelemetry, loopbackTransport, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const AGENT = 'ri-agent';

interface Run {
  readonly telemetry: ReturnType<typeof eventTelemetry>;
  readonly counts: { connects: number; disconnects: number; replays: number };
  stop(): Promise<void>;
}

/** An aedes broker that holds the agent's events while `hold` is set, and agents on it that share one stateDir. */
async function fixture(spill: boolean): Promise<{
  wait: (cond: () => boolean) => Promise<void>;
  listener: Awaited<ReturnType<typeof cuttableBroker>>['listener'];
  /** Events the broker took on the agent's connection number `c` (1, 2, …). */
  takenOn: (c: number) => number;
  logs: Array<{ level: number; lost?: Record<string, number> }>;
  run: () => Run;
  /** Every event `n` a subscriber gets from a next run, once its replay is through, in order of arrival. */
  nextRun: () => Promise<number[]>;
}> {
  let onChange = (): void => undefined;
  const changed = (): void => onChange();
  const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));

  const connection = new Map<Client, number>();
  let connections = 0;
  const seen: number[][] = [];
  let hold = true;
  const aedes = new Aedes({
    authorizePublish: (client, packet, done) => {
      if (!client || client.id !== AGENT || !packet.topic.endsWith('/event')) return done(null);
      const p = JSON.parse(packet.payload.toString()) as { n?: number };
      (seen[connection.get(client) ?? 0] ??= []).push(p.n ?? -1);
      // Held: no PUBACK, nothing passed on.
      if (!hold) done(null);
      changed();
    },
  });
  aedes.on('client', (client) => {
    if (client.id === AGENT) connection.set(client, ++connections);
  });
  const { port, listener, close } = await cuttableBroker(aedes);
  cleanup.push(close);

  const stateDir = tempDir('dev2mqtt-replay-cut-');
  const offlineBuffer = { maxMessages: 1000, maxBytes: 1 << 20, spill, spillMaxBytes: 1 << 20 };
  const logs: Array<{ level: number; lost?: Record<string, number> }> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });

  /** An agent's transport and telemetry: resume on every connect, pause on every loss. */
  const run = (): Run & { transport: ReturnType<typeof loopbackTransport> } => {
    const transport = loopbackTransport(port, AGENT);
    const telemetry = eventTelemetry(transport, 'ri', offlineBuffer, { stateDir, log });
    const counts = { connects: 0, disconnects: 0, replays: 0 };
    transport.start({
      message: () => undefined,
      connected: () => {
        counts.connects++;
        changed();
        void telemetry.resume().then((done) => {
          if (done) counts.replays++;
          changed();
        });
      },
      disconnected: () => {
        counts.disconnects++;
        telemetry.pause();
        changed();
      },
    });
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      telemetry.stop();
      await transport.stop(1000);
    };
    cleanup.push(stop);
    return { transport, telemetry, counts, stop };
  };

  const nextRun = async (): Promise<number[]> => {
    hold = false;
    await listener.up();
    const subscriberPort = await freePort();
    const subscriberSide = droppableListener(aedes, subscriberPort);
    await subscriberSide.up();
    cleanup.push(() => subscriberSide.down());
    const received: number[] = [];
    let ended = false;
    const subscriber = mqtt.connect(`mqtt://127.0.0.1:${subscriberPort}`, { clientId: 'ri-sub', reconnectPeriod: 0 });
    cleanup.push(() => new Promise<void>((resolve) => subscriber.end(true, {}, () => resolve())));
    subscriber.on('message', (_topic, payload) => {
      const p = JSON.parse(payload.toString()) as { n?: number; end?: boolean };
      if (p.end) ended = true;
      else if (p.n !== undefined) received.push(p.n);
      changed();
    });
    await subscriber.subscribeAsync('ri/#', { qos: 1 });
    const next = run();
    await wait(() => next.counts.replays === 1);
    // On the same connection, after the replay: once the subscriber has it, every replayed copy has arrived.
    await next.transport.publish('ri/n1/in0/event', JSON.stringify({ end: true }), { qos: 1 });
    await wait(() => ended);
    await next.stop();
    return received;
  };

  return { wait, listener, takenOn: (c) => seen[c]?.length ?? 0, logs, run, nextRun };
}

describe('unconfirmed events, then a stop while away', () => {
  for (const spill of [true, false]) {
    const outcome = spill
      ? 'with a spill: the next run publishes every one, in order'
      : 'without a spill: every unpublished one is counted as dropped and logged at the stop';

    it(`an offline replay cut short twice, none of it confirmed — ${outcome}`, async () => {
      const EVENTS = 300; // more than one replay batch (256)
      const f = await fixture(spill);
      const first = f.run();
      await f.wait(() => first.counts.replays === 1);
      await f.listener.down();
      await f.wait(() => first.counts.disconnects === 1);
      for (let n = 0; n < EVENTS; n++) first.telemetry.event('in0', 'edge', { n });

      // Back: the replay starts, the broker confirms none of it, the link goes.
      await f.listener.up();
      await f.wait(() => f.takenOn(2) >= 1);
      await f.listener.down();
      await f.wait(() => first.counts.disconnects === 2);

      // Back again: what was unconfirmed goes out again, the broker confirms none of it, the link goes again.
      await f.listener.up();
      await f.wait(() => f.takenOn(3) >= 256);
      await f.listener.down();
      await f.wait(() => first.counts.disconnects === 3);
      await first.stop();

      if (spill) {
        expect([...new Set(await f.nextRun())]).toEqual([...Array(EVENTS).keys()]);
      } else {
        expect(first.telemetry.nodeState().offlineBuffer).toMatchObject({ held: 0, dropped: EVENTS });
        expect(f.logs.filter((l) => l.lost)).toEqual([expect.objectContaining({ level: 40, lost: { in0: EVENTS } })]);
      }
    });

    it(`events published live that the broker had not confirmed when the link went — ${outcome}`, async () => {
      const f = await fixture(spill);
      const first = f.run();
      await f.wait(() => first.counts.replays === 1);
      // Live: the broker takes these and confirms none.
      for (let n = 0; n < 5; n++) first.telemetry.event('in0', 'edge', { n });
      await f.wait(() => f.takenOn(1) === 5);
      await f.listener.down();
      await f.wait(() => first.counts.disconnects === 1);
      // Away: these are kept by the offline buffer.
      for (let n = 5; n < 10; n++) first.telemetry.event('in0', 'edge', { n });
      await first.stop();

      if (spill) {
        expect([...new Set(await f.nextRun())]).toEqual([...Array(10).keys()]);
      } else {
        expect(first.telemetry.nodeState().offlineBuffer).toMatchObject({ held: 0, dropped: 10 });
        expect(f.logs.filter((l) => l.lost)).toEqual([expect.objectContaining({ level: 40, lost: { in0: 10 } })]);
      }
    });
  }
});
