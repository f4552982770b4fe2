/**
 * The transport's stop: connected, it flushes what the broker has not yet
 * acknowledged (within its timeout); disconnected, there is no broker to
 * flush to, so it ends at once instead of waiting out the timeout (the
 * agent's whole 5 s stop budget), and a link lost in the middle of a flush
 * ends it too. The broker is aedes, which holds the PUBACK of the topic the
 * test names until the test lets it go. The stops below are given an hour:
 * a stop that waited for its timeout would fail the test on the test's own
 * bound, so nothing here measures time.
 */
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { cuttableBroker, loopbackTransport, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const HOUR_MS = 3_600_000;
const HELD = 'stop-t/n1/dev/result/held';

async function setup(): Promise<{
  transport: ReturnType<typeof loopbackTransport>;
  listener: Awaited<ReturnType<typeof cuttableBroker>>['listener'];
  wait: (cond: () => boolean) => Promise<void>;
  seen: () => number;
  release: () => void;
  counts: { connects: number; disconnects: number };
  /** Connections the broker has seen close. */
  closed: () => number;
}> {
  let onChange = (): void => undefined;
  const changed = (): void => onChange();
  const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));
  let seen = 0;
  const held: Array<() => void> = [];
  const aedes = new Aedes({
    authorizePublish: (_client, packet, done) => {
      if (packet.topic !== HELD) return done(null);
      seen++;
      held.push(() => done(null));
      changed();
    },
  });
  let closed = 0;
  aedes.on('clientDisconnect', () => {
    closed++;
    changed();
  });
  const { port, listener, close } = await cuttableBroker(aedes);
  cleanup.push(close);
  const transport = loopbackTransport(port, 'stop-agent');
  const counts = { connects: 0, disconnects: 0 };
  transport.start({
    message: () => undefined,
    connected: () => {
      counts.connects++;
      changed();
    },
    disconnected: () => {
      counts.disconnects++;
      changed();
    },
  });
  cleanup.push(() => transport.stop(1000));
  await wait(() => counts.connects === 1);
  return { transport, listener, wait, seen: () => seen, release: () => held.splice(0).forEach((d) => d()), counts, closed: () => closed };
}

describe('transport stop', () => {
  it('while disconnected, with a publish the broker never acknowledged, ends without waiting for its timeout', async () => {
    const { transport, listener, wait, seen, counts } = await setup();
    void transport.publish(HELD, '{}', { qos: 1 }).catch(() => undefined);
    await wait(() => seen() === 1);
    await listener.down();
    await wait(() => counts.disconnects === 1);

    await transport.stop(HOUR_MS);
    expect(transport.connected).toBe(false);
  });

  it('while disconnected and nothing waits, ends without waiting for its timeout', async () => {
    const { transport, listener, wait, counts } = await setup();
    await listener.down();
    await wait(() => counts.disconnects === 1);

    await transport.stop(HOUR_MS);
    expect(transport.connected).toBe(false);
  });

  it('while connected, waits for the broker to acknowledge what it has not yet', async () => {
    const { transport, wait, seen, release } = await setup();
    let confirmed = false;
    void transport.publish(HELD, '{}', { qos: 1 }).then(() => (confirmed = true));
    await wait(() => seen() === 1);

    const stopped = transport.stop(HOUR_MS);
    release();
    await stopped;
    // The PUBACK came before the DISCONNECT: the publish settled, the stop did not abandon it.
    expect(confirmed).toBe(true);
  });

  it('while connected, a flush the broker never acknowledges ends at its timeout with the connection closed', async () => {
    const { transport, wait, seen, closed } = await setup();
    void transport.publish(HELD, '{}', { qos: 1 }).catch(() => undefined);
    await wait(() => seen() === 1);

    await transport.stop(1);
    // A socket left open would keep the process (and its keepalive) alive after the agent stopped.
    await wait(() => closed() === 1);
  });

  it('while connected, a link lost in the middle of the flush ends it', async () => {
    const { transport, listener, wait, seen } = await setup();
    void transport.publish(HELD, '{}', { qos: 1 }).catch(() => undefined);
    await wait(() => seen() === 1);

    const stopped = transport.stop(HOUR_MS);
    await listener.down();
    await stopped;
    expect(transport.connected).toBe(false);
  });
});
