/**
 * The uplink goes down for a minute while a GPIO input toggles every 100 ms
 * (the sim line flips itself: `simToggleMs`). The broker stays up for
 * everyone else — a proxy between the agent and mosquitto cuts the link, as
 * a Pi's LTE drops — and a watcher subscribed at mosquitto sees what the
 * agent publishes.
 *
 * Proved: every edge arrives after the reconnection, in order (the kernel's
 * sequence numbers have no gap and never go back), each one stamped when it
 * happened (its `ts` lies in the outage, before the link was back) and marked
 * `replayed: true`; the state changes of the outage are replayed unretained
 * and the retained state published after them is never older than they are.
 * A second case overflows a small buffer: the oldest are dropped, and one
 * `dropped` event says how many and from when, before the kept ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { mosquittoItself, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { MqttProxy } from './helpers/mqtt-proxy.js';

const ok = mosquittoItself('the offline-buffer suite (a mosquitto behind a proxy that cuts the link)');
const OUTAGE_MS = 60_000;
const BASE = 'dev2mqtt/ob';

interface Edge {
  type: string;
  seqno: number;
  value: number;
  ts: number;
  timestampNs: string;
  replayed?: boolean;
}

/** Polls a condition on the event loop until it holds (nothing is decided by a fixed delay). */
async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const payloads = (ms: readonly Received[]): Array<Record<string, unknown>> =>
  ms.map((m) => JSON.parse(m.payload) as Record<string, unknown>);
const edgesOf = (c: TestClient): Edge[] => payloads(c.on(`${BASE}/in0/event`)).filter((e) => e.type === 'edge') as unknown as Edge[];
/**
 * The replayed ones after the first live one: what the outage kept. (Edges seen before the
 * agent's very first connection are replayed too, at that connection.)
 */
function replayedAfterLive<T extends { replayed?: boolean }>(items: readonly T[]): T[] {
  const firstLive = items.findIndex((e) => !e.replayed);
  return items.slice(firstLive).filter((e) => e.replayed);
}

describe.skipIf(!ok)('offline buffer: the link is down, the agent keeps what it saw', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(toggleMs: number, offlineBuffer: Record<string, unknown> = {}) {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.stop());
    const proxy = await MqttProxy.start(broker.port);
    cleanup.push(() => proxy.close());
    const watcher = await TestClient.connect(broker.url);
    cleanup.push(() => watcher.end());
    await watcher.subscribe([`${BASE}/in0/event`, `${BASE}/in0/state`]);
    const agent: Agent = await startAgent({
      config: {
        node: { id: 'ob' },
        mqtt: { url: proxy.url, reconnectMinMs: 100, reconnectMaxMs: 500 },
        telemetry: { stateThrottleMs: 100, offlineBuffer },
        devices: [{ id: 'in0', kind: 'gpio', sim: true, options: { line: 17, edge: 'both', simToggleMs: toggleMs } }],
      },
    });
    cleanup.push(() => agent.stop());
    return { proxy, watcher, agent };
  }

  it(`a ${OUTAGE_MS / 1000} s outage with an input toggling every 100 ms: every edge arrives afterwards, in order, with its original ts`, async () => {
    const { proxy, watcher, agent } = await setup(100);
    await until(() => edgesOf(watcher).length >= 5, 'live edges before the outage');

    const cutAt = Date.now();
    proxy.cut();
    await until(() => !agent.connected, 'the agent to notice the link is down');
    // The outage itself: a minute of the line toggling with nowhere to publish.
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const seqnoAtRestore = (agent.devices.get('in0')?.state() as { edges: number }).edges;
    const restoredAt = Date.now();
    proxy.restore();

    // Everything up to the restore, then live edges after the replay.
    await until(
      () => edgesOf(watcher).some((e) => e.seqno > seqnoAtRestore + 5 && !e.replayed),
      'the replay and live edges after it',
      120_000,
    );

    const edges = edgesOf(watcher);
    const seqnos = edges.map((e) => e.seqno);
    // Every edge, in order: from the first seen to the last, each sequence number once, never back.
    expect(seqnos).toEqual(seqnos.map((_, i) => (seqnos[0] ?? 0) + i));
    expect(edges.every((e, i) => i === 0 || e.value !== edges[i - 1]?.value)).toBe(true);
    const replayed = replayedAfterLive(edges);
    // The outage was a minute of edges, and all of it came back: with no gap in the sequence numbers
    // (above), the replay reaches the last edge the kernel counted before the link was restored.
    expect(replayed.length).toBeGreaterThan(100);
    const duringOutage = replayed.filter((e) => e.ts <= restoredAt);
    expect(duringOutage.map((e) => e.seqno)).toContain(seqnoAtRestore);
    // Stamped when it happened, from the cut on — not when it was finally published. (The edges
    // between the restore and the agent's reconnection, a backoff step later, are replayed too.)
    expect(replayed.filter((e) => e.ts < cutAt)).toEqual([]);
    const firstLive = edges.find((e) => !e.replayed && e.seqno > (replayed.at(-1)?.seqno ?? Infinity));
    expect(replayed.every((e) => e.ts <= (firstLive?.ts ?? 0))).toBe(true);
    // Timestamps follow the edges: the agent's ts and the kernel's.
    expect(edges.every((e, i) => i === 0 || e.ts >= (edges[i - 1]?.ts ?? 0))).toBe(true);
    expect(edges.every((e, i) => i === 0 || BigInt(e.timestampNs) > BigInt(edges[i - 1]?.timestampNs ?? '0'))).toBe(true);
    // Replayed ones came first, then live ones: none replayed after a live one after the cut.
    const firstLiveAfter = edges.findIndex((e) => !e.replayed && e.ts >= restoredAt);
    expect(edges.slice(firstLiveAfter).filter((e) => e.replayed)).toEqual([]);

    // State: the outage's changes replayed (not retained), then the retained current state, never older.
    const states = watcher.on(`${BASE}/in0/state`);
    const parsed = payloads(states) as Array<{ edges: number; replayed?: boolean; ts?: number }>;
    const lastReplayed = parsed.map((s) => s.replayed === true).lastIndexOf(true);
    expect(lastReplayed).toBeGreaterThan(0);
    const replayedStates = replayedAfterLive(parsed);
    expect(replayedStates.every((s) => (s.ts ?? 0) >= cutAt && (s.ts ?? 0) <= (firstLive?.ts ?? 0))).toBe(true);
    expect(replayedStates.filter((s) => (s.ts ?? 0) <= restoredAt).length).toBeGreaterThan(0);
    const after = parsed.slice(lastReplayed + 1);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.replayed === undefined && s.edges >= (parsed[lastReplayed]?.edges ?? 0))).toBe(true);
    const fresh = await TestClient.connect(`mqtt://127.0.0.1:${proxy.upstreamPort}`);
    cleanup.push(() => fresh.end());
    await fresh.subscribe(`${BASE}/in0/state`);
    const retained = await fresh.next((m) => m.retain, 20_000, 'the retained state');
    const current = JSON.parse(retained.payload) as { edges: number; replayed?: boolean };
    expect(current.replayed).toBeUndefined();
    expect(current.edges).toBeGreaterThanOrEqual(parsed[lastReplayed]?.edges ?? Infinity);
    console.log(
      `offline buffer: ${replayed.length} edges and ${replayedStates.length} state changes replayed after a ${OUTAGE_MS / 1000} s outage; ` +
        `node state offlineBuffer: ${JSON.stringify((JSON.parse((await stateOfNode(fresh)).payload) as { offlineBuffer: unknown }).offlineBuffer)}`,
    );
  }, 240_000);

  it('a full buffer drops the oldest and says so, with the count and the span, before what it kept', async () => {
    const { proxy, watcher, agent } = await setup(20, { maxMessages: 20 });
    await until(() => edgesOf(watcher).length >= 3, 'live edges before the outage');
    const lastLive = Math.max(...edgesOf(watcher).map((e) => e.seqno));
    proxy.cut();
    await until(() => !agent.connected, 'the agent to notice the link is down');
    const edges = (): number => (agent.devices.get('in0')?.state() as { edges: number }).edges;
    await until(() => edges() > lastLive + 60, '60 edges while away');
    const atRestore = edges();
    proxy.restore();
    await until(() => edgesOf(watcher).some((e) => !e.replayed && e.seqno > lastLive + 60), 'the replay and live edges after it');

    const events = payloads(watcher.on(`${BASE}/in0/event`));
    const notices = events.filter((e) => e.type === 'dropped') as Array<{
      count: number;
      firstTs: number;
      lastTs: number;
      replayed: boolean;
    }>;
    expect(notices.length).toBeGreaterThanOrEqual(1);
    const notice = notices[0] as (typeof notices)[number];
    // Edges keep coming every 20 ms while the kept ones are replayed; on a loaded machine the buffer
    // can overflow again before the next batch, which is then told by a notice of its own. The
    // checks below are on the first overflow and the batch that follows it.
    const firstBatch = notices[1] ? events.slice(0, events.indexOf(notices[1])) : events;
    for (const later of notices.slice(1)) expect(later).toMatchObject({ replayed: true, count: expect.any(Number) as number });
    const replayed = replayedAfterLive(firstBatch.filter((e) => e.type === 'edge') as unknown as Edge[]);
    // The notice comes after the live edges and before the kept ones.
    expect(events.indexOf(notice)).toBeLessThan(events.indexOf(replayed[0] as unknown as Record<string, unknown>));
    expect(events.indexOf(notice)).toBeGreaterThan(events.findIndex((e) => e.type === 'edge' && !e.replayed));
    expect(replayed.length).toBeGreaterThan(0);
    // Kept: the newest 20 messages at most (edges and state changes) when the link came back, and
    // whatever happened while they were being replayed.
    expect(replayed[0]?.seqno).toBeGreaterThan(atRestore - 20);
    expect(notice.replayed).toBe(true);
    expect(notice.firstTs).toBeLessThanOrEqual(notice.lastTs);
    expect(notice.lastTs).toBeLessThanOrEqual(replayed[0]?.ts ?? 0);
    // What was kept is the newest: contiguous up to the reconnection, and the live ones follow it.
    const seqnos = replayed.map((e) => e.seqno);
    expect(seqnos).toEqual(seqnos.map((_, i) => (seqnos[0] ?? 0) + i));
    expect(seqnos[0]).toBeGreaterThan(lastLive + 1);
    // Every edge missing between the last one delivered live and the first kept one is in the count.
    const liveBefore = Math.max(
      ...(events.filter((e) => e.type === 'edge' && !e.replayed) as unknown as Edge[])
        .map((e) => e.seqno)
        .filter((n) => n < (seqnos[0] ?? 0)),
    );
    expect(notice.count).toBeGreaterThanOrEqual((seqnos[0] ?? 0) - liveBefore - 1);
  }, 120_000);
});

async function stateOfNode(c: TestClient): Promise<Received> {
  await c.subscribe(`${BASE}/state`);
  return c.next((m) => m.topic === `${BASE}/state`, 20_000, 'node state');
}
