/**
 * QoS 1 may deliver a command twice: a redelivery (DUP) of an id that already
 * ran is answered with the stored result; a fresh message reusing an id runs.
 * Commands acknowledged but unfinished when the process died run after restart.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { CommandJournal } from '../../src/agent/journal.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';
import { until } from '../helpers/wait.js';

let agent: Agent | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await client?.end();
  await agent?.stop();
  agent = undefined;
});

const msg = (payload: string, dup: boolean) => ({
  topic: 'dev2mqtt/t1/p1/cmd/count',
  payload: Buffer.from(payload),
  qos: 1 as const,
  dup,
  retain: false,
  receivedAt: performance.now(),
});

describe('command journal', () => {
  it('answers a DUP redelivery from the stored result without running it again; a fresh reuse of the id runs', async () => {
    agent = await startAgent();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    agent.dispatcher.handle(msg('{"id":"once"}', false));
    await client.next((m) => m.payload.includes('"count":1'));
    agent.dispatcher.handle(msg('{"id":"once"}', true));
    await client.next((_m) => client!.on('dev2mqtt/t1/p1/result').length === 2);
    const second = JSON.parse(client.on('dev2mqtt/t1/p1/result')[1]?.payload ?? '{}') as { id: string; result: { count: number } };
    expect(second).toMatchObject({ id: 'once', result: { count: 1 } });
    expect(probes.get('p1')?.count).toBe(1);
    expect(agent.dispatcher.stats.duplicates).toBe(1);
    agent.dispatcher.handle(msg('{"id":"once"}', false));
    await client.next((m) => m.payload.includes('"count":2'));
    expect(probes.get('p1')?.count).toBe(2);
  });

  it('knows a DUP of a command without an id by its packet id and payload; a new message with the same packet id runs', async () => {
    agent = await startAgent();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    const results = (): number => client!.on('dev2mqtt/t1/p1/result').length;
    const withPacket = (payload: string, dup: boolean, packetId: number) => ({ ...msg(payload, dup), packetId });
    agent.dispatcher.handle(withPacket('', false, 7));
    await client.next(() => results() === 1);
    // The broker sends it again (a lost PUBACK): not run again, and no second result.
    agent.dispatcher.handle(withPacket('', true, 7));
    expect(agent.dispatcher.stats.duplicates).toBe(1);
    // A packet id is reused once acknowledged: a new message (no DUP) with it runs; so does a DUP with another payload.
    agent.dispatcher.handle(withPacket('', false, 7));
    await client.next(() => results() === 2);
    agent.dispatcher.handle(withPacket('{}', true, 7));
    await client.next(() => results() === 3);
    expect(probes.get('p1')?.count).toBe(3);
    expect(agent.dispatcher.stats.duplicates).toBe(1);
  });

  it('runs, after a restart, a command that was acknowledged but never finished', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    mkdirSync(stateDir, { recursive: true });
    // What a crash mid-command leaves: an accepted line, no result line.
    appendFileSync(
      path.join(stateDir, 'journal.jsonl'),
      `${JSON.stringify({ t: 'a', k: 'u:left-over', m: { topic: 'dev2mqtt/t1/p1/cmd/set', payload: Buffer.from('{"id":"left-over","value":42}').toString('base64'), receivedAtMs: Date.now() } })}\n`,
    );
    // The broker is the agent's own, so the recovered command may have run before anyone could
    // subscribe: the device and the agent's stats are what say it ran.
    agent = await startAgent({ config: { node: { stateDir } } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    // A command behind it in the same queue: its result means the left-over one has finished too.
    await client.command('dev2mqtt/t1/p1/cmd/echo', {}, 'after');
    expect(probes.get('p1')?.value).toBe(42);
    // And it is finished now: once its result is in the journal, a further restart does not run it again.
    const journal = path.join(stateDir, 'journal.jsonl');
    await until(() => readFileSync(journal, 'utf8').includes('{"t":"r","k":"u:left-over"'), 'the result in the journal');
    expect(new CommandJournal(stateDir, 100).open()).toEqual([]);
  });

  it('survives a torn last line, keeps results of sender ids within its window, and forgets made-up ids once done', () => {
    const dir = tempDir();
    const j = new CommandJournal(dir, 3);
    j.open();
    const result = (id: string) => ({ id, node: 'n', command: 'c', ok: true, result: {}, ms: 1 });
    for (let i = 0; i < 5; i++) {
      j.accepted(`u:k${i}`, { topic: 't', payload: '', receivedAtMs: 0 });
      j.finished(`u:k${i}`, result(`k${i}`));
    }
    j.accepted('g:made-up', { topic: 't', payload: '', receivedAtMs: 0 });
    j.finished('g:made-up', result('made-up'));
    j.accepted('u:pending', { topic: 't', payload: '', receivedAtMs: 0 });
    expect(j.has('g:made-up')).toBe(false);
    j.close();
    appendFileSync(path.join(dir, 'journal.jsonl'), '{"t":"a","k":"torn"');
    const again = new CommandJournal(dir, 3);
    expect(again.open().map((p) => p.key)).toEqual(['u:pending']);
    expect(again.result('u:k4')).toMatchObject({ id: 'k4', ok: true });
    expect(again.has('u:k2')).toBe(true);
    expect(again.has('u:k1')).toBe(false);
  });

  it('writes "started" and the result before it returns, and an accepted command within the turn (before MQTT.js acks it)', async () => {
    const dir = tempDir();
    const j = new CommandJournal(dir, 100);
    j.open();
    const lines = (): string[] =>
      readFileSync(path.join(dir, 'journal.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { t: string }).t)
        .filter((t) => t !== 'h');
    j.accepted('u:a', { topic: 't', payload: 'e30=', receivedAtMs: 0 });
    j.accepted('u:b', { topic: 't', payload: 'e30=', receivedAtMs: 0 });
    j.started('u:a');
    expect(lines()).toEqual(['a', 'a', 's']);
    j.finished('u:a', { id: 'a', node: 'n', command: 'c', ok: true, result: {}, ms: 1 });
    expect(lines()).toEqual(['a', 'a', 's', 'r']);
    j.delivered('u:a');
    j.accepted('u:c', { topic: 't', payload: 'e30=', receivedAtMs: 0 });
    // An immediate queued now runs after the journal's own flush, as MQTT.js's PUBACK does.
    await new Promise((r) => setImmediate(r));
    expect(lines()).toEqual(['a', 'a', 's', 'r', 'p', 'a']);
    j.close();
    const again = new CommandJournal(dir, 100);
    expect(again.open().map((p) => p.key)).toEqual(['u:b', 'u:c']);
  });
});
