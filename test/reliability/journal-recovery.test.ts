/**
 * What a crash leaves in the journal, and what the next start does with it,
 * written exactly as a killed process leaves it (so each case is certain,
 * where the SIGKILL test hits whichever case the moment gives):
 *  - accepted, never started → run once;
 *  - started, never finished → not run again, answered `canceled` (interrupted);
 *  - finished, result never confirmed by the broker → the same result published again;
 *  - a DUP redelivery of any of them after the restart → not run.
 * And ids are per command topic: a DUP of id "1" on one device is not answered
 * with the result of id "1" on another.
 */
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { CommandJournal } from '../../src/agent/journal.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { freePort } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';

let agent: Agent | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await client?.end();
  await agent?.stop();
  agent = undefined;
  client = undefined;
});

const TOPIC = 'dev2mqtt/t1/p1/cmd/count';
const key = (id: string, topic = TOPIC): string => `u:${topic}\u0000${id}`;
const message = (id: string) => ({
  topic: TOPIC,
  payload: Buffer.from(JSON.stringify({ id })).toString('base64'),
  receivedAtMs: Date.now() - 1000,
});
const line = (o: unknown): string => `${JSON.stringify(o)}\n`;

describe('journal recovery after a crash', () => {
  it('runs the unstarted, answers the interrupted without running it, republishes the unconfirmed result', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    mkdirSync(stateDir, { recursive: true });
    const file = path.join(stateDir, 'journal.jsonl');
    const done = { id: 'done', node: 't1', device: 'p1', command: 'count', ok: true, result: { count: 7 }, ms: 1 };
    appendFileSync(
      file,
      [
        line({ t: 'a', k: key('unstarted'), m: message('unstarted') }),
        line({ t: 'a', k: key('running'), m: message('running') }),
        line({ t: 's', k: key('running') }),
        line({ t: 'a', k: key('done'), m: message('done') }),
        line({ t: 's', k: key('done') }),
        line({ t: 'r', k: key('done'), r: done }),
        line({ t: 'a', k: key('confirmed'), m: message('confirmed') }),
        line({ t: 's', k: key('confirmed') }),
        line({ t: 'r', k: key('confirmed'), r: { ...done, id: 'confirmed' } }),
        line({ t: 'p', k: key('confirmed') }),
      ].join(''),
    );

    // Its own embedded broker: the recovered results are published before anyone can subscribe,
    // so this case reads the device and the journal file (the next case reads the results).
    agent = await startAgent({ config: { node: { stateDir } } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    await client.command(TOPIC, {}, 'after');
    const results = (): Record<string, unknown>[] =>
      client!.on('dev2mqtt/t1/p1/result').map((m) => JSON.parse(m.payload) as Record<string, unknown>);
    // Only "unstarted" and "after" ran.
    expect(probes.get('p1')?.count).toBe(2);
    expect(results().find((r) => r.id === 'after')).toMatchObject({ ok: true, result: { count: 2 } });
    const journal = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: string; k: string; r?: Record<string, unknown> });
    const resultOf = (id: string): Record<string, unknown> | undefined => journal.filter((l) => l.t === 'r' && l.k === key(id)).at(-1)?.r;
    expect(resultOf('unstarted')).toMatchObject({ ok: true, result: { count: 1 } });
    expect(resultOf('running')).toMatchObject({ ok: false, error: { code: 'canceled' } });
    expect((resultOf('running')?.error as { message: string }).message).toMatch(/not run again/);
    // Every recovered result is now confirmed by the broker, the republished one included.
    for (const id of ['unstarted', 'running', 'done', 'confirmed']) {
      // A 'p' line, or (after the start-up compaction) a result line marked confirmed.
      expect(
        journal.some((l) => l.k === key(id) && (l.t === 'p' || (l.t === 'r' && (l as { p?: number }).p === 1))),
        `${id} confirmed`,
      ).toBe(true);
    }
  });

  it('a subscriber that is there before the restart gets the recovered results; a DUP of the interrupted one is not run', async () => {
    // The broker lives apart from the agent here (a host agent's embedded broker), so the
    // subscriber is there before the restarted agent connects and handles its journal.
    const stateDir = tempDir('dev2mqtt-state-');
    mkdirSync(stateDir, { recursive: true });
    appendFileSync(
      path.join(stateDir, 'journal.jsonl'),
      [
        line({ t: 'a', k: key('running'), m: message('running') }),
        line({ t: 's', k: key('running') }),
        line({ t: 'a', k: key('done'), m: message('done') }),
        line({
          t: 'r',
          k: key('done'),
          r: { id: 'done', node: 't1', device: 'p1', command: 'count', ok: true, result: { count: 7 }, ms: 1 },
        }),
      ].join(''),
    );
    const port = await freePort();
    // The broker side first: a host agent with the embedded broker on a fixed port, then the agent under test.
    const host = await startAgent({ config: { node: { id: 'host' }, broker: { port } } });
    try {
      client = await TestClient.connect(`mqtt://127.0.0.1:${port}`);
      await client.subscribe('dev2mqtt/t1/p1/result');
      agent = await startAgent({ config: { node: { stateDir }, mqtt: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: 4 } } });
      const running = await client.result('dev2mqtt/t1/p1/result', 'running');
      expect(running).toMatchObject({ ok: false, error: { code: 'canceled' } });
      expect(await client.result('dev2mqtt/t1/p1/result', 'done')).toMatchObject({ ok: true, result: { count: 7 } });
      // A DUP redelivery of the interrupted command is answered from the journal, still not run.
      agent.dispatcher.handle({
        topic: TOPIC,
        payload: Buffer.from('{"id":"running"}'),
        qos: 1,
        dup: true,
        retain: false,
        receivedAt: performance.now(),
      });
      await client.next(() => client!.on('dev2mqtt/t1/p1/result').filter((m) => m.payload.includes('"id":"running"')).length === 2);
      expect(probes.get('p1')?.count).toBe(0);
    } finally {
      await client?.end();
      client = undefined;
      await agent?.stop();
      agent = undefined;
      await host.stop();
    }
  });

  it('a DUP of id "1" on one device is not answered with the result id "1" had on another', async () => {
    agent = await startAgent({
      config: {
        devices: [
          { id: 'p1', kind: 'probe' },
          { id: 'p2', kind: 'probe' },
        ],
      },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/+/result');
    await client.command('dev2mqtt/t1/p1/cmd/count', {}, '1');
    // The broker redelivers (DUP) a command to p2 whose first copy we never saw: it must run on p2.
    agent.dispatcher.handle({
      topic: 'dev2mqtt/t1/p2/cmd/count',
      payload: Buffer.from('{"id":"1"}'),
      qos: 1,
      dup: true,
      retain: false,
      receivedAt: performance.now(),
    });
    const r = await client.result('dev2mqtt/t1/p2/result', '1');
    expect(r).toMatchObject({ device: 'p2', ok: true, result: { count: 1 } });
    expect(probes.get('p2')?.count).toBe(1);
  });

  it('keeps its memory bounded: a finished command drops its payload, and the window holds at most 32 MiB', () => {
    const dir = tempDir('dev2mqtt-journal-');
    const j = new CommandJournal(dir, 10_000);
    j.open();
    const big = 'x'.repeat(64 * 1024);
    const msg = { topic: TOPIC, payload: big, receivedAtMs: 0 };
    const result = { id: 'r', node: 't1', device: 'p1', command: 'count', ok: true, result: {}, ms: 1 };
    // 700 finished commands with 64 KiB payloads: only their small results stay.
    for (let i = 0; i < 700; i++) {
      j.accepted(key(`f${i}`), msg);
      j.finished(key(`f${i}`), { ...result, id: `f${i}` });
    }
    expect(j.has(key('f0'))).toBe(true);
    // 700 unfinished ones (45 MiB of payload): the oldest go, as past the window.
    for (let i = 0; i < 700; i++) j.accepted(key(`p${i}`), msg);
    j.close();
    const again = new CommandJournal(dir, 10_000);
    const { pending } = again.recover();
    expect(pending.length).toBeGreaterThan(300);
    expect(pending.length).toBeLessThan(520);
    expect(pending.at(-1)?.key).toBe(key('p699'));
    // The compacted file holds what the window holds, nothing like 90 MiB.
    expect(statSync(path.join(dir, 'journal.jsonl')).size).toBeLessThan(48 * 1024 * 1024);
  });
});
