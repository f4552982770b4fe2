/**
 * The agent killed with SIGKILL in the middle of a stream of QoS 1 commands,
 * then started again on the same state dir, as systemd's Restart= would:
 * the broker publishes its LWT `offline`; commands queued in its persistent
 * session meanwhile run after the restart; no command runs twice (a plug-in
 * device appends each run's id to a file that outlives the process); and
 * every command gets a result.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { spawnAgent, writeConfig, type ChildAgent } from './helpers/child-agent.js';
import { runsPerId } from './helpers/runs.js';

const COUNTER = fileURLToPath(new URL('../fixtures/counter-kind.js', import.meta.url));
const NODE = 'af';
const CMD = `dev2mqtt/${NODE}/c1/cmd/run`;
const RESULTS = `dev2mqtt/${NODE}/c1/result`;
const STATUS = `dev2mqtt/${NODE}/status`;
/** Commands in all: before the kill, while the agent is dead, after it is back. */
const TOTAL = 240;
const KILL_AFTER_RESULTS = 40;

interface Result {
  id: string;
  ok: boolean;
  error?: { code: string; message: string };
}

describe('agent faults: SIGKILL mid-stream and restart', () => {
  let broker: TestBroker;
  let client: TestClient;
  const children: ChildAgent[] = [];

  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => {
    for (const c of children) await c.kill('SIGKILL');
    await client?.end();
    await broker?.stop();
  });

  it('LWT offline, queued commands run after the restart, none twice, every one answered', async () => {
    const dir = tempDir('dev2mqtt-af-');
    const runsFile = path.join(dir, 'runs.txt');
    const config = writeConfig(
      {
        node: { id: NODE, stateDir: path.join(dir, 'state') },
        mqtt: { url: broker.url, protocolVersion: broker.protocolVersion, reconnectMinMs: 100, reconnectMaxMs: 500 },
        plugins: [COUNTER],
        devices: [{ id: 'c1', kind: 'counter', options: { file: runsFile } }],
        security: { rateLimitPerS: 0 },
        log: { level: 'info' },
      },
      dir,
    );

    // The sender and watcher: a persistent session, so nothing published to it while it reconnects is lost.
    client = await TestClient.connect(broker.url, { clean: false, clientId: `af-watch-${process.pid}` });
    await client.subscribe([RESULTS, STATUS]);

    const first = spawnAgent(config);
    children.push(first);
    await client.next((m) => m.topic === STATUS && m.payload === 'online', 30_000, 'online');

    // Each command holds the device 15 ms and they come every 5 ms: a queue builds, so the kill
    // finds commands accepted and journaled but not run, one running, and more on the wire.
    const ids = Array.from({ length: TOTAL }, (_, i) => `af-${i}`);
    const acked: Promise<void>[] = [];
    let sent = 0;
    let killedAt = -1;
    const statusBefore = client.on(STATUS).length;
    const resultsSeen = (): number => client.on(RESULTS).length;
    while (sent < TOTAL) {
      acked.push(client.publish(CMD, JSON.stringify({ id: ids[sent], ms: 15 })));
      sent++;
      if (killedAt < 0 && resultsSeen() >= KILL_AFTER_RESULTS) {
        killedAt = sent;
        await first.kill('SIGKILL');
        const lwt = await client.next((m) => m.topic === STATUS && client.on(STATUS).indexOf(m) >= statusBefore, 30_000, 'LWT');
        expect(lwt.payload).toBe('offline');
        // Half the rest go to the dead agent's session on the broker.
      }
      if (killedAt > 0 && sent === killedAt + Math.floor((TOTAL - killedAt) / 2)) {
        const second = spawnAgent(config);
        children.push(second);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(acked);
    expect(killedAt).toBeGreaterThan(0);

    // Every command answered (an answer may come twice: a result the dead process had sent but the broker had not confirmed).
    const answers = new Map<string, Result>();
    await client
      .next(
        () => {
          for (const m of client.on(RESULTS)) {
            const r = JSON.parse(m.payload) as Result;
            answers.set(r.id, r);
          }
          return answers.size === TOTAL;
        },
        60_000,
        `results for all ${TOTAL} commands`,
      )
      .catch((e: Error) => {
        throw new Error(
          `${e.message}; missing: ${ids
            .filter((id) => !answers.has(id))
            .slice(0, 20)
            .join(', ')}\n${children
            .map((c) => c.output())
            .join('\n---\n')
            .slice(-3000)}`,
        );
      });

    const runs = runsPerId(runsFile);
    const twice = [...runs].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice, 'commands that ran twice').toEqual([]);
    for (const id of ids) {
      const r = answers.get(id) as Result;
      if (r.ok) expect(runs.get(id), `${id} ok but not run`).toBe(1);
      else {
        // The one a kill caught running: not run again, and said so.
        expect(r.error?.code, `${id}: ${JSON.stringify(r)}`).toBe('canceled');
        expect(runs.get(id), `${id} canceled`).toBe(1);
      }
    }
    // Commands sent while it was dead were queued in its session and ran after the restart.
    const whileDead = ids.slice(killedAt, killedAt + Math.floor((TOTAL - killedAt) / 2));
    expect(whileDead.length).toBeGreaterThan(50);
    for (const id of whileDead) expect(answers.get(id)?.ok, id).toBe(true);
    // In the order they were sent: what the dead process had accepted ran before what arrived after the restart.
    const order = readFileSync(runsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((id) => Number(id.slice(3)));
    expect(
      order.filter((n, i) => i > 0 && n < (order[i - 1] ?? 0)),
      'runs out of order',
    ).toEqual([]);
    const interrupted = ids.filter((id) => answers.get(id)?.ok === false);
    console.log(
      `agent-faults: killed after ${killedAt} sent; ${whileDead.length} sent while dead; interrupted: ${interrupted.join(', ') || 'none'}`,
    );
    expect(interrupted.length).toBeLessThanOrEqual(1);
    // Back online after the restart.
    expect(
      client
        .on(STATUS)
        .slice(statusBefore)
        .map((m) => m.payload),
    ).toEqual(['offline', 'online']);
  });

  it('the tape image is intact: records written before the kill, and after the restart, read back in order', async () => {
    const dir = tempDir('dev2mqtt-aftape-');
    const node = 'aft';
    const cmd = (c: string): string => `dev2mqtt/${node}/tape0/cmd/${c}`;
    const results = `dev2mqtt/${node}/tape0/result`;
    const status = `dev2mqtt/${node}/status`;
    const config = writeConfig(
      {
        node: { id: node, stateDir: path.join(dir, 'state') },
        mqtt: { url: broker.url, protocolVersion: broker.protocolVersion, reconnectMinMs: 100, reconnectMaxMs: 500 },
        devices: [
          {
            id: 'tape0',
            kind: 'tape',
            sim: true,
            // Instant moves; 256 KiB/s: a 2 KiB record takes 8 ms, so the kill finds one mid-write.
            options: { pollMs: 0, sim: { timing: { rewindMs: 0, spaceMs: 0, eomMs: 0, weofMs: 0, bytesPerS: 256 * 1024 } } },
          },
        ],
        security: { rateLimitPerS: 0 },
        log: { level: 'warn' },
      },
      dir,
    );
    const tape = await TestClient.connect(broker.url, { clean: false, clientId: `aft-watch-${process.pid}` });
    try {
      await tape.subscribe([results, status]);
      const first = spawnAgent(config);
      children.push(first);
      await tape.next((m) => m.topic === status && m.payload === 'online', 30_000, 'online');
      const record = (i: number): string => `rec-${String(i).padStart(4, '0')}-`.padEnd(2048, String.fromCharCode(97 + (i % 26)));
      const count = 120;
      const acked: Promise<void>[] = [];
      let killedAt = -1;
      const statusSeen = tape.on(status).length;
      for (let i = 0; i < count; i++) {
        acked.push(tape.publish(cmd('write'), JSON.stringify({ id: `w${i}`, data: record(i) })));
        if (killedAt < 0 && tape.on(results).length >= 30) {
          killedAt = i + 1;
          await first.kill('SIGKILL');
          await tape.next((m) => m.topic === status && tape.on(status).indexOf(m) >= statusSeen, 30_000, 'LWT');
        }
        if (killedAt > 0 && i === killedAt + 20) children.push(spawnAgent(config));
        await new Promise((r) => setTimeout(r, 4));
      }
      await Promise.all(acked);
      expect(killedAt).toBeGreaterThan(0);
      const answers = new Map<string, Result>();
      await tape.next(
        () => {
          for (const m of tape.on(results)) {
            const r = JSON.parse(m.payload) as Result;
            answers.set(r.id, r);
          }
          return Array.from({ length: count }, (_, i) => `w${i}`).every((id) => answers.has(id));
        },
        60_000,
        'every write answered',
      );
      const okWrites = Array.from({ length: count }, (_, i) => i).filter((i) => answers.get(`w${i}`)?.ok);
      const canceled = Array.from({ length: count }, (_, i) => i).filter((i) => answers.get(`w${i}`)?.error?.code === 'canceled');
      expect(okWrites.length + canceled.length, JSON.stringify([...answers.values()].filter((r) => !r.ok))).toBe(count);
      expect(canceled.length).toBeLessThanOrEqual(1);

      // Read the whole tape back: records in order, filemarks skipped, until end of data (EIO).
      expect(await tape.command(cmd('rewind'), {}, 'rw')).toMatchObject({ ok: true });
      const onTape: number[] = [];
      for (let n = 0; n < count + 10; n++) {
        const r = (await tape.command(cmd('read'), { encoding: 'utf8' }, `r${n}`)) as {
          ok: boolean;
          result?: { data: string; bytes: number };
          error?: { errno?: string };
        };
        if (!r.ok) {
          expect(r.error?.errno, 'end of data').toBe('EIO');
          break;
        }
        if (r.result?.bytes === 0) continue; // the filemark the kill left owed, written at the restart
        const data = r.result?.data ?? '';
        const i = Number(data.slice(4, 8));
        expect(data, `record ${i} intact`).toBe(record(i));
        onTape.push(i);
      }
      // Every acknowledged write is there once, in order; the one the kill interrupted may or may not be.
      expect(onTape.filter((i) => !canceled.includes(i))).toEqual(okWrites);
      expect(new Set(onTape).size).toBe(onTape.length);
      console.log(
        `agent-faults (tape): killed after ${killedAt} writes sent; ${onTape.length} records on tape; interrupted: ${canceled.map((i) => `w${i}`).join(', ') || 'none'}`,
      );
    } finally {
      await tape.end();
    }
  });
});
