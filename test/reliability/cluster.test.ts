/**
 * A fleet on a real three-node nats-server cluster (Debian's package: MQTT
 * listener, JetStream with the MQTT streams and consumers replicated on all
 * three; bench/nats-cluster.mjs). Every agent lists the three nodes in
 * mqtt.servers and is placed on one of them (firstServer).
 *
 * Proved: a group command published on one node reaches the agents on the
 * other two, and their results come back; when the node an agent is on is
 * killed (SIGKILL), the agent moves to a survivor, never waiting longer than
 * the backoff cap between attempts, the QoS 1 commands published while it was
 * away run exactly once, and its retained status and node state are current
 * again (the node state names the survivor); a command the agent ran but
 * whose PUBACK never reached its node (the link cut first) is redelivered
 * on the next node with DUP and answered from the journal, not run again.
 * Everything is awaited as an
 * event with a deadline; retained messages are read by fresh subscribers
 * until they show the new value, because a nats node applies retained
 * messages from the replicated stream a moment after it acknowledged them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { requireTools } from '../helpers/tools.js';
import { LogCapture } from './helpers/log-capture.js';
import { MqttProxy } from './helpers/mqtt-proxy.js';
import { NatsCluster, type NatsNode } from '../../bench/nats-cluster.mjs';

const ok = requireTools('the nats-server cluster suite', 'nats-server');
const BASE = 'dev2mqtt';
const RECONNECT_MAX_MS = 1000;

interface Placed {
  readonly agent: Agent;
  readonly log: LogCapture;
  readonly node: string;
}

/** The brokers an agent connected to, in order, from its log. */
const connectedTo = (log: LogCapture): string[] =>
  log.text
    .split('\n')
    .filter((l) => l.includes('"msg":"connected to broker"'))
    .map((l) => (JSON.parse(l) as { broker: string }).broker);

/** The delays the agent chose between its attempts, from its log. */
const delays = (log: LogCapture): number[] =>
  log.text
    .split('\n')
    .filter((l) => l.includes('"msg":"reconnecting"'))
    .map((l) => (JSON.parse(l) as { delayMs: number }).delayMs);

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!ok)('a fleet on a three-node nats-server cluster', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });

  async function cluster(): Promise<NatsCluster> {
    const c = await NatsCluster.start();
    cleanup.push(() => c.close());
    await c.ready();
    return c;
  }

  /** One agent per node: agent i starts on node i. */
  async function fleet(c: NatsCluster): Promise<Placed[]> {
    return Promise.all(
      c.nodes.map(async (node, i) => {
        const log = new LogCapture();
        const agent = await startAgent({
          config: {
            node: { id: `c${i}`, groups: ['fleet'] },
            mqtt: { servers: c.urls, protocolVersion: 4, reconnectMinMs: 200, reconnectMaxMs: RECONNECT_MAX_MS, ackTimeoutMs: 5000 },
            devices: [{ id: 'led0', kind: 'led', sim: true, options: { pollMs: 0 } }],
          },
          logStream: log,
          logLevel: 'debug',
          firstServer: i,
        });
        cleanup.push(() => agent.stop());
        return { agent, log, node: node.url };
      }),
    );
  }

  async function client(node: NatsNode, clientId?: string): Promise<TestClient> {
    const c = await TestClient.connect(node.url, { protocolVersion: 4, ...(clientId ? { clientId, clean: false } : {}) });
    cleanup.push(() => c.end());
    return c;
  }

  /** Subscriptions a node refused (it does while it re-elects the leaders of the MQTT streams after a node loss). */
  let refused = 0;
  async function subscribe(c: TestClient, topic: string): Promise<boolean> {
    try {
      await c.subscribe(topic);
      return true;
    } catch {
      refused++;
      await new Promise((r) => setTimeout(r, 200));
      return false;
    }
  }

  /** A fresh subscriber's retained message on `topic` at `node`, until `want` holds (a node applies retained messages a moment late). */
  async function retainedOn(node: NatsNode, topic: string, want: (payload: string) => boolean, what: string): Promise<string> {
    let last = '(none)';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const c = await TestClient.connect(node.url, { protocolVersion: 4, reconnectPeriod: 0 });
      try {
        if (!(await subscribe(c, topic))) continue;
        const m = await c.next((x) => x.retain, 2000, 'a retained message').catch(() => undefined);
        if (m) last = m.payload;
        if (m && want(m.payload)) return m.payload;
      } finally {
        await c.end();
      }
    }
    throw new Error(`retained ${topic} on ${node.name} never showed ${what}; last: ${last}`);
  }

  it('a group command published on one node reaches the agents on the other two', async () => {
    const c = await cluster();
    const agents = await fleet(c);
    expect(agents.map((a) => connectedTo(a.log)[0])).toEqual(c.urls);
    const [a] = c.nodes as [NatsNode];
    const operator = await client(a);
    await operator.subscribe(`${BASE}/+/led0/result`);
    await operator.publish(`${BASE}/group/fleet/led0/cmd/set`, JSON.stringify({ id: 'g-1', state: 'ON' }));
    for (let i = 0; i < 3; i++) expect(await operator.result(`${BASE}/c${i}/led0/result`, 'g-1', 30_000)).toMatchObject({ ok: true });
  }, 120_000);

  it('a command in flight when the link to its node goes is redelivered on another node and runs once', async () => {
    const c = await cluster();
    const [a, b] = c.nodes as [NatsNode, NatsNode, NatsNode];
    // The agent reaches node A through a proxy that swallows its PUBACKs: the command has run, A never heard.
    const proxy = await MqttProxy.start(a.mqttPort);
    cleanup.push(() => proxy.close());
    const log = new LogCapture();
    const agent = await startAgent({
      config: {
        node: { id: 'inflight' },
        mqtt: { servers: [proxy.url, ...c.urls.slice(1)], protocolVersion: 4, reconnectMinMs: 200, reconnectMaxMs: RECONNECT_MAX_MS },
        devices: [{ id: 'led0', kind: 'led', sim: true, options: { pollMs: 0 } }],
      },
      logStream: log,
      logLevel: 'debug',
      firstServer: 0,
    });
    cleanup.push(() => agent.stop());
    const operator = await client(b, 'dev2mqtt-test-inflight-operator');
    await until(() => subscribe(operator, `${BASE}/inflight/led0/result`), 'the operator subscribed', 60_000);
    proxy.dropPubacks = true;
    expect(await operator.command(`${BASE}/inflight/led0/cmd/set`, { state: 'ON' }, 'in-flight')).toMatchObject({ ok: true });
    await until(() => proxy.dropped > 0, 'the PUBACK swallowed', 30_000);
    const ranBefore = agent.dispatcher.stats.ok;
    proxy.cut();
    await until(() => connectedTo(log).length > 1, 'the agent on another node', 60_000);
    // The session's unacknowledged command comes again on the new node: answered, not run again.
    await until(() => agent.dispatcher.stats.duplicates > 0 || agent.dispatcher.stats.ok > ranBefore, 'the redelivery', 120_000);
    expect(await operator.command(`${BASE}/inflight/led0/cmd/set`, { state: 'OFF' }, 'after')).toMatchObject({ ok: true });
    console.log(
      `nats cluster: in-flight command redelivered on ${connectedTo(log).at(-1)}: duplicates ${agent.dispatcher.stats.duplicates}, ran ${agent.dispatcher.stats.ok}`,
    );
    expect(agent.dispatcher.stats.duplicates).toBe(1);
    expect(agent.dispatcher.stats.ok - ranBefore).toBe(1);
  }, 240_000);

  it('the node an agent is on is killed: it moves to a survivor, runs what was sent meanwhile once, and is online again', async () => {
    const c = await cluster();
    const agents = await fleet(c);
    // Agent c0 was placed on n1; its node is the one that goes.
    const moved = agents[0] as Placed;
    expect(connectedTo(moved.log)).toEqual([c.urls[0]]);
    const [victim, b, survivor] = c.nodes as [NatsNode, NatsNode, NatsNode];
    const operator = await client(b, 'dev2mqtt-test-operator');
    await until(() => subscribe(operator, `${BASE}/c0/led0/result`), 'the operator subscribed', 60_000);
    // Everything the cluster needs to lose a node without losing data: all three copies current.
    await c.waitReplicated();
    const before = { ...moved.agent.dispatcher.stats };

    const killedAt = Date.now();
    await c.kill(victim);
    await until(() => !moved.agent.connected, 'the agent to notice its node is gone', 30_000);
    // Sent while the agent is away: it has no connection while these go out.
    const ids = [0, 1, 2, 3, 4].map((k) => `away-${k}`);
    const sent = ids.map((id, k) => operator.publish(`${BASE}/c0/led0/cmd/set`, JSON.stringify({ id, state: k % 2 ? 'OFF' : 'ON' })));
    expect(moved.agent.connected).toBe(false);
    await Promise.all(sent);

    await moved.log.waitFor(/"msg":"connected to broker"/, 60_000).catch(() => undefined);
    await until(() => connectedTo(moved.log).length > 1, 'the agent to connect to a survivor', 60_000);
    const reconnectedMs = Date.now() - killedAt;
    // Never back to the dead node, never a wait past the cap between attempts.
    expect(
      connectedTo(moved.log)
        .slice(1)
        .every((u) => u !== victim.url),
    ).toBe(true);
    expect(Math.max(...delays(moved.log))).toBeLessThanOrEqual(RECONNECT_MAX_MS);

    for (const id of ids) expect(await operator.result(`${BASE}/c0/led0/result`, id, 60_000)).toMatchObject({ ok: true });
    // A command after the reconnection runs after all of those (one device, arrival order): then count.
    expect(await operator.command(`${BASE}/c0/led0/cmd/set`, { state: 'ON' }, 'after')).toMatchObject({ ok: true });
    const ran = moved.agent.dispatcher.stats.ok - before.ok;
    expect(ran).toBe(ids.length + 1);

    const now = connectedTo(moved.log).at(-1) ?? '';
    const reader = c.node(now === survivor.url ? b.url : survivor.url);
    await retainedOn(reader, `${BASE}/c0/status`, (p) => p === 'online', 'online');
    await retainedOn(reader, `${BASE}/c0/state`, (p) => (JSON.parse(p) as { broker?: string }).broker === now, `broker ${now}`);
    const onlineMs = Date.now() - killedAt;
    // The other agents never left their nodes.
    expect(agents.slice(1).map((a) => connectedTo(a.log))).toEqual([[b.url], [survivor.url]]);
    console.log(
      `nats cluster: node killed; the agent connected to ${now} after ${reconnectedMs} ms (attempts ${JSON.stringify(connectedTo(moved.log))}), ` +
        `retained online/state current after ${onlineMs} ms; ${ids.length} commands sent while away ran once each ` +
        `(duplicates answered from the journal: ${moved.agent.dispatcher.stats.duplicates - before.duplicates}); ` +
        `subscriptions refused by the survivors meanwhile: ${refused}`,
    );
  }, 240_000);
});
