/**
 * A stop while the link is down: a command still running gets its share of
 * the stop budget, and what it emits meanwhile (a tape's progress, a modem's
 * URC) is seen while away like anything else: kept for the next run, or
 * counted as dropped and said, never gone without a word. The broker is
 * aedes on a listener the test cuts; the command is the probe's `stuck`,
 * which holds the device until the test lets it go.
 */
import { Writable } from 'node:stream';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { probes } from '../helpers/test-kinds.js';
import { cuttableBroker, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('a stop while away', () => {
  it('keeps account of the events a command still running emits during the stop', async () => {
    let onChange = (): void => undefined;
    const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));
    const lines: Array<{ msg: string; lost?: Record<string, number> }> = [];
    const logStream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
        onChange();
        done();
      },
    });
    const { port, listener, close } = await cuttableBroker(new Aedes());
    cleanup.push(close);
    const agent = await startAgent({
      config: { mqtt: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 4 } },
      logStream,
      logLevel: 'warn',
    });
    cleanup.push(() => agent.stop());

    const running = agent.exec('p1', 'stuck', Buffer.from(JSON.stringify({ ms: 600_000 })));
    const probe = probes.get('p1');
    await wait(() => (probe?.holds.size ?? 0) === 1);
    await listener.down();
    await wait(() => lines.some((l) => l.msg.startsWith('disconnected from broker')));

    const stopped = agent.stop();
    // The command, still running within the stop's budget, emits, and then ends.
    probe?.ctx.emit('poke', { late: true });
    for (const release of [...(probe?.holds ?? [])]) release();
    await running;
    await stopped;

    expect(lines.filter((l) => l.lost)).toEqual([expect.objectContaining({ lost: { p1: 1 } })]);
  });
});
