/**
 * The ack watchdog on its own: it gives up on a broker that acknowledges
 * nothing while something waits, and only then — not on a quiet link, and
 * not on an event loop that was too busy to read the acknowledgements that
 * had arrived (a loaded Pi, a fleet of agents in one process).
 */
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { AckWatchdog } from '../../src/transport/ack-watchdog.js';

/** The event loop held, as a long synchronous turn (GC, a big JSON parse) holds it. */
function stallFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else runs
  }
}

/** Lets a few whole event-loop iterations (timers, I/O, immediates) go by. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('ack watchdog', () => {
  const watchdogs: AckWatchdog[] = [];
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const w of watchdogs.splice(0)) w.disconnected();
    for (const c of closers.splice(0)) c();
  });

  it('gives up when something waits and nothing is acknowledged for timeoutMs', async () => {
    let w: AckWatchdog | undefined;
    const waited = await new Promise<number>((resolve) => {
      w = new AckWatchdog(100, resolve);
      watchdogs.push(w);
      w.connected();
      w.sent();
    });
    expect(waited).toBeGreaterThan(100);
  });

  it('never gives up while nothing waits, however long the loop was held', async () => {
    let fired = false;
    const w = new AckWatchdog(100, () => (fired = true));
    watchdogs.push(w);
    w.connected();
    w.sent();
    w.acked();
    stallFor(300);
    await turns(5);
    expect(fired).toBe(false);
  });

  it('an acknowledgement that arrived while the event loop was held counts: no false alarm', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const [brokerSide] = await accepted;
    closers.push(() => {
      client.destroy();
      brokerSide.destroy();
      server.close();
    });

    let fired = false;
    const w = new AckWatchdog(100, () => (fired = true));
    watchdogs.push(w);
    w.connected();
    client.on('data', () => w.acked());
    w.sent();
    // The broker answers at once: the acknowledgement is in our socket's receive buffer...
    brokerSide.write(Buffer.from([0x40, 0x02, 0x00, 0x01]));
    // ...but the loop is held past the timeout before it can read it. The watchdog's timer is due
    // before the socket is read in the next iteration.
    stallFor(400);
    await once(client, 'data');
    await turns(5);
    expect(fired).toBe(false);
  });
});
