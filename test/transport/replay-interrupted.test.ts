/**
 * The offline buffer's replay cut short, twice, and then the agent stopped
 * before the broker confirmed anything: nothing the buffer held may be gone
 * without a word. With a spill (`telemetry.offlineBuffer.spill`) the next run
 * publishes all of it, in order; without one, the stop counts it as dropped
 * and says so. The broker is aedes, which takes the agent's events but holds
 * their PUBACKs while the test says so; the test cuts the agent's listener.
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

const EVENTS = 300; // more than one replay batch (256)
const AGENT = 'ri-agent';

describe('an offline replay cut short, then a stop', () => {
  for (const spill of [true, false]) {
    it(
      spill
        ? 'with a spill: the next run publishes every message, in order, though none was confirmed'
        : 'without a spill: every unpublished message is counted as dropped and logged at the stop',
      async () => {
        let onChange = (): void => undefined;
        const changed = (): void => onChange();
        const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));

        // Per connection of the agent (1, 2, …): the `n` of each event the broker took on it.
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
        const takenOn = (c: number): number => seen[c]?.length ?? 0;

        const stateDir = tempDir('dev2mqtt-replay-cut-');
        const offlineBuffer = { maxMessages: 1000, maxBytes: 1 << 20, spill, spillMaxBytes: 1 << 20 };
        const logs: Array<{ level: number; msg: string; lost?: Record<string, number> }> = [];
        const log = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });

        /** An agent's transport and telemetry: resume on every connect, pause on every loss. */
        const run = (): {
          transport: ReturnType<typeof loopbackTransport>;
          telemetry: ReturnType<typeof eventTelemetry>;
          counts: { connects: number; disconnects: number; replays: number };
          stop: () => Promise<void>;
        } => {
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
          cleanup.push(() => {
            if (stopped) return;
            telemetry.stop();
            return transport.stop(1000);
          });
          return {
            transport,
            telemetry,
            counts,
            stop: async () => {
              stopped = true;
              telemetry.stop();
              await transport.stop(1000);
            },
          };
        };

        // The first run: connected, then away while the events happen.
        const first = run();
        await wait(() => first.counts.replays === 1);
        await listener.down();
        await wait(() => first.counts.disconnects === 1);
        for (let n = 0; n < EVENTS; n++) first.telemetry.event('in0', 'edge', { n });

        // Back: the replay starts, the broker confirms none of it, the link goes.
        await listener.up();
        await wait(() => takenOn(2) >= 1);
        await listener.down();
        await wait(() => first.counts.disconnects === 2);

        // Back again: what was unconfirmed goes out again, the broker confirms none of it, the link goes again.
        await listener.up();
        await wait(() => takenOn(3) >= 256);
        await listener.down();
        await wait(() => first.counts.disconnects === 3);
        await first.stop();

        if (!spill) {
          expect(first.telemetry.nodeState().offlineBuffer).toMatchObject({ held: 0, dropped: EVENTS });
          expect(logs.filter((l) => l.lost)).toEqual([expect.objectContaining({ level: 40, lost: { in0: EVENTS } })]);
          return;
        }

        // The next run, with a broker that confirms: every event arrives, in order.
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

        const second = run();
        await wait(() => second.counts.replays === 1);
        // On the same connection, after the replay: once the subscriber has it, every replayed copy has arrived.
        await second.transport.publish('ri/n1/in0/event', JSON.stringify({ end: true }), { qos: 1 });
        await wait(() => ended);
        const firstCopies = [...new Set(received)];
        expect(firstCopies).toEqual([...Array(EVENTS).keys()]);
        await second.stop();
      },
    );
  }
});
