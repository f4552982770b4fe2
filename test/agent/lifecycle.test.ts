/**
 * The agent across its own restarts and the broker's: LWT, the persistent
 * session, group topics, a broker restart under a running agent. The broker
 * is mosquitto where it is installed, else aedes (helpers/broker.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { LAUNCHER } from '../helpers/cli.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { mosquittoPub, mosquittoSub } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';

const THERMAL = fileURLToPath(new URL('../../examples/plugin-kind/thermal.js', import.meta.url));

function spawnAgent(broker: TestBroker, node: string): { proc: ChildProcess; exited: Promise<number | null> } {
  const dir = tempDir('dev2mqtt-child-');
  const file = path.join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      node: { id: node, stateDir: path.join(dir, 'state') },
      mqtt: { url: broker.url, protocolVersion: broker.protocolVersion, keepaliveS: 5 },
      plugins: [THERMAL],
      devices: [{ id: 'soc', kind: 'thermal', sim: true }],
      log: { level: 'warn' },
    }),
  );
  const proc = spawn(process.execPath, [LAUNCHER, 'run', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited };
}

describe('agent lifecycle on a broker', () => {
  let broker: TestBroker;
  const mqtt = (): { url: string; protocolVersion: number } => ({ url: broker.url, protocolVersion: broker.protocolVersion });
  let watcher: TestClient;
  const agents: Agent[] = [];
  beforeAll(async () => {
    broker = await startBroker({ persistence: true });
    // A persistent session, so results published while it reconnects after a broker restart wait for it.
    watcher = await TestClient.connect(broker.url, { clean: false, clientId: `watcher-${process.pid}` });
    await watcher.subscribe(['dev2mqtt/+/status', 'dev2mqtt/+/+/result']);
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });
  afterAll(async () => {
    await watcher.end();
    await broker.stop();
  });

  it('a graceful stop leaves retained "offline"; SIGKILL makes the broker publish the LWT "offline"', async () => {
    const { proc, exited } = spawnAgent(broker, 'child1');
    await watcher.next((m) => m.topic === 'dev2mqtt/child1/status' && m.payload === 'online', 30_000, 'child1 online');
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const sub = await mosquittoSub(broker.port, 'dev2mqtt/child1/status', { count: 1 });
    expect(await sub.lines).toEqual(['dev2mqtt/child1/status offline']);

    const second = spawnAgent(broker, 'child2');
    await watcher.next((m) => m.topic === 'dev2mqtt/child2/status' && m.payload === 'online', 30_000, 'child2 online');
    const seen = watcher.on('dev2mqtt/child2/status').length;
    second.proc.kill('SIGKILL');
    await second.exited;
    const lwt = await watcher.next(
      (m) => m.topic === 'dev2mqtt/child2/status' && watcher.on('dev2mqtt/child2/status').indexOf(m) >= seen,
      30_000,
      'LWT',
    );
    expect(lwt.payload).toBe('offline');
  });

  it('a QoS 1 command published while the agent is stopped runs exactly once when it is back', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    const config = { node: { id: 'away', stateDir }, mqtt: mqtt() };
    const first = await startAgent({ config });
    await first.stop();
    expect((await mosquittoPub(broker.port, 'dev2mqtt/away/p1/cmd/count', '{"id":"while-away"}')).status).toBe(0);
    const second = await startAgent({ config });
    agents.push(second);
    const r = await watcher.result('dev2mqtt/away/p1/result', 'while-away');
    expect(r).toMatchObject({ ok: true, result: { count: 1 } });
    // Another command after it: once its result is in, no second copy of the first can be on its way.
    await watcher.command('dev2mqtt/away/p1/cmd/count', {}, 'after');
    expect(watcher.messages.filter((m) => m.topic === 'dev2mqtt/away/p1/result' && m.payload.includes('"id":"while-away"'))).toHaveLength(
      1,
    );
    expect(probes.get('p1')?.count).toBe(2);
  });

  it('group commands reach every node of the group that has the device', async () => {
    const a = await startAgent({ config: { node: { id: 'ga', groups: ['kitchen'] }, mqtt: mqtt() } });
    const b = await startAgent({ config: { node: { id: 'gb', groups: ['kitchen', 'hall'] }, mqtt: mqtt() } });
    const c = await startAgent({ config: { node: { id: 'gc', groups: ['hall'] }, mqtt: mqtt() } });
    agents.push(a, b, c);
    await mosquittoPub(broker.port, 'dev2mqtt/group/kitchen/p1/cmd/echo', '{"id":"g1","value":"hi"}');
    const [ra, rb] = await Promise.all([watcher.result('dev2mqtt/ga/p1/result', 'g1'), watcher.result('dev2mqtt/gb/p1/result', 'g1')]);
    expect(ra).toMatchObject({ node: 'ga', ok: true });
    expect(rb).toMatchObject({ node: 'gb', ok: true });
    // A node command on the group answers on each node's own result topic.
    await watcher.subscribe('dev2mqtt/+/result');
    await mosquittoPub(broker.port, 'dev2mqtt/group/hall/cmd/ping', '{"id":"g2"}');
    const [pb, pc] = await Promise.all([watcher.result('dev2mqtt/gb/result', 'g2'), watcher.result('dev2mqtt/gc/result', 'g2')]);
    expect(pb).toMatchObject({ node: 'gb', ok: true, result: { pong: true } });
    expect(pc).toMatchObject({ node: 'gc', ok: true });
    expect(watcher.messages.some((m) => m.topic === 'dev2mqtt/ga/result' && m.payload.includes('"g2"'))).toBe(false);
  });

  it('survives a broker restart: back online, resubscribed, retained state republished, no command lost', async () => {
    const agent = await startAgent({ config: { node: { id: 'rs' }, mqtt: mqtt() } });
    agents.push(agent);
    await watcher.command('dev2mqtt/rs/p1/cmd/count', {}, 'before');
    await watcher.subscribe('dev2mqtt/rs/p1/state');
    const statusSeen = watcher.on('dev2mqtt/rs/status').length;
    await broker.restart();
    // Right away, before the agent is back: the persisted session queues these for it.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => mosquittoPub(broker.port, 'dev2mqtt/rs/p1/cmd/count', JSON.stringify({ id: `after-${i}` }))),
    );
    await watcher.next(
      (m) => m.topic === 'dev2mqtt/rs/status' && m.payload === 'online' && watcher.on('dev2mqtt/rs/status').indexOf(m) >= statusSeen,
      30_000,
      'online again',
    );
    for (let i = 0; i < 20; i++) expect(await watcher.result('dev2mqtt/rs/p1/result', `after-${i}`)).toMatchObject({ ok: true });
    expect(probes.get('p1')?.count).toBe(21);
    // The queued commands run, and answer, while the agent still replays the state changes it kept
    // offline (not retained); the retained state follows that replay, so it is the current one.
    await watcher.next(
      (m) =>
        m.topic === 'dev2mqtt/rs/p1/state' &&
        !m.payload.includes('"replayed"') &&
        (JSON.parse(m.payload) as { count?: number }).count === 21,
      30_000,
      'the current state, announced after the replay',
    );
    // Retained state as of now, published again by the agent after the restart.
    const sub = await mosquittoSub(broker.port, 'dev2mqtt/rs/p1/state', { count: 1 });
    const [line] = await sub.lines;
    expect(JSON.parse(line?.slice(line.indexOf(' ') + 1) ?? '{}')).toMatchObject({ count: 21 });
  });
});
