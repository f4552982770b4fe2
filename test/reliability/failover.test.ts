/**
 * `mqtt.servers` against real mosquittos: an agent moves to the next broker
 * when the one it is on dies, when it refuses the agent's subscriptions, and
 * when it stops acknowledging publishes (a proxy swallows its PUBACKs, as a
 * clustered broker re-electing its storage leader does); the broker in use is
 * in the node state and the log. The three-node nats cluster is in
 * cluster.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { mosquittoItself, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { LogCapture } from './helpers/log-capture.js';
import { MqttProxy } from './helpers/mqtt-proxy.js';

const ok = mosquittoItself('the failover suite (mosquitto brokers killed and restarted)');
const BASE = 'dev2mqtt/fo';

const label = (port: number): string => `mqtt://127.0.0.1:${port}`;
/** The brokers the agent connected to, in order, from its log. */
const connectedTo = (log: LogCapture): string[] =>
  log.text
    .split('\n')
    .filter((l) => l.includes('"msg":"connected to broker"'))
    .map((l) => (JSON.parse(l) as { broker: string }).broker);

describe.skipIf(!ok)('failover between mqtt.servers', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function agentOn(servers: string[], log: LogCapture, firstServer?: number, mqtt: Record<string, unknown> = {}): Promise<Agent> {
    const agent = await startAgent({
      config: {
        node: { id: 'fo' },
        mqtt: { servers, reconnectMinMs: 100, reconnectMaxMs: 400, ...mqtt },
        devices: [{ id: 'led0', kind: 'led', sim: true, options: { pollMs: 0 } }],
      },
      logStream: log,
      logLevel: 'debug',
      ...(firstServer !== undefined ? { firstServer } : {}),
    });
    cleanup.push(() => agent.stop());
    return agent;
  }

  /** The node state as a fresh client of `port` gets it (retained), once it names `broker`. */
  async function nodeStateOn(port: number, broker: string): Promise<Record<string, unknown>> {
    const c = await TestClient.connect(label(port));
    cleanup.push(() => c.end());
    await c.subscribe(`${BASE}/state`);
    const m = await c.next((x) => (JSON.parse(x.payload) as { broker?: string }).broker === broker, 20_000, `node state naming ${broker}`);
    return JSON.parse(m.payload) as Record<string, unknown>;
  }

  it('the broker in use dies: the agent goes to the next one, says which in node state and log, and comes back round', async () => {
    const a = await Mosquitto.start();
    const b = await Mosquitto.start();
    cleanup.push(
      () => a.stop(),
      () => b.stop(),
    );
    const log = new LogCapture();
    await agentOn([a.url, b.url], log);
    const first = connectedTo(log)[0] ?? '';
    expect([label(a.port), label(b.port)]).toContain(first);
    const [on, other] = first === label(a.port) ? [a, b] : [b, a];
    expect(await nodeStateOn(on.port, first)).toMatchObject({ broker: first });

    await on.stop('SIGKILL');
    const moved = await nodeStateOn(other.port, label(other.port));
    expect(moved.broker).toBe(label(other.port));
    expect(connectedTo(log)).toEqual([first, label(other.port)]);
    const watcher = await TestClient.connect(other.url);
    cleanup.push(() => watcher.end());
    await watcher.subscribe(`${BASE}/led0/result`);
    expect(await watcher.command(`${BASE}/led0/cmd/set`, { state: 'ON' }, 'fo-1')).toMatchObject({ ok: true });

    // Round the list: the first one back, the second gone.
    await on.start();
    await other.stop('SIGKILL');
    expect((await nodeStateOn(on.port, first)).broker).toBe(first);
    expect(connectedTo(log)).toEqual([first, label(other.port), first]);
  }, 120_000);

  it('a broker that refuses the subscriptions is left for the next one (the agent never sits there deaf)', async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.stop());
    const refusing = await MqttProxy.start(broker.port);
    const good = await MqttProxy.start(broker.port);
    cleanup.push(
      () => refusing.close(),
      () => good.close(),
    );
    refusing.refuseSubscriptions = true;
    const log = new LogCapture();
    const agent = await agentOn([refusing.url, good.url], log, 0, { protocolVersion: 4 });
    await agent.whenOnline();
    expect(log.text).toMatch(/subscribe failed.*dropping the broker connection/);
    expect(connectedTo(log)).toEqual([refusing.url, good.url]);
    expect((await nodeStateOn(broker.port, good.url)).broker).toBe(good.url);
  }, 120_000);

  it('a broker that refuses the subscriptions every time is tried again with a growing backoff, and said once', async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.stop());
    const refusing = await MqttProxy.start(broker.port);
    cleanup.push(() => refusing.close());
    // An ACL that denies one of the agent's topics looks the same: every connection is useless.
    refusing.refuseSubscriptions = true;
    const log = new LogCapture();
    const minMs = 100;
    const agent = await startAgent({
      config: {
        node: { id: 'fo' },
        mqtt: { servers: [refusing.url], protocolVersion: 4, reconnectMinMs: minMs, reconnectMaxMs: 60_000 },
        devices: [{ id: 'led0', kind: 'led', sim: true, options: { pollMs: 0 } }],
      },
      logStream: log,
      logLevel: 'debug',
      start: false,
    });
    cleanup.push(() => agent.stop());
    // Never online: it is started, not awaited.
    await agent.start();
    const lines = await log.waitForCount(/"msg":"reconnecting"/, 5, 60_000);
    const delays = lines.map((l) => (JSON.parse(l) as { delayMs: number }).delayMs);
    // Each useless connection counts as a failed attempt: the wait doubles as it does for a broker
    // that is down (the fifth step is at least 8 × the first's cap/2), never a loop at the first step.
    expect(delays[4]).toBeGreaterThanOrEqual(8 * minMs);
    // One warning for the lot, not one a connection.
    const warnings = log.text.split('\n').filter((l) => l.includes('"level":40') && l.includes('dropping the broker connection'));
    expect(warnings).toHaveLength(1);
    expect(refusing.connections).toBeGreaterThanOrEqual(5);
  }, 120_000);

  it('a broker that stops acknowledging is left after mqtt.ackTimeoutMs; what waited is sent again on the next', async () => {
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.stop());
    // Two ways to one broker: the first can be made to swallow its PUBACKs.
    const deaf = await MqttProxy.start(broker.port);
    const direct = await MqttProxy.start(broker.port);
    cleanup.push(
      () => deaf.close(),
      () => direct.close(),
    );
    const log = new LogCapture();
    await agentOn([deaf.url, direct.url], log, 0, { ackTimeoutMs: 1000 });
    expect(direct.connections).toBe(0);
    const watcher = await TestClient.connect(broker.url);
    cleanup.push(() => watcher.end());
    await watcher.subscribe(`${BASE}/led0/result`);

    deaf.dropBrokerPubacks = true;
    await watcher.publish(`${BASE}/led0/cmd/set`, JSON.stringify({ id: 'fo-deaf', state: 'ON' }));
    await log.waitFor(/acknowledged nothing for \d+ s.*dropping the broker connection/);
    expect(deaf.brokerPubacksDropped).toBeGreaterThan(0);
    await log.waitFor(new RegExp(`"broker":"${direct.url}".*"msg":"connected to broker"`));
    expect(connectedTo(log)).toEqual([deaf.url, direct.url]);
    // The result went out (and perhaps again, with DUP, on the next connection: the same result).
    const results = await watcher.next((m) => m.payload.includes('"fo-deaf"'), 20_000, 'the result');
    expect(JSON.parse(results.payload)).toMatchObject({ id: 'fo-deaf', ok: true });
    expect(await watcher.command(`${BASE}/led0/cmd/set`, { state: 'OFF' }, 'fo-after')).toMatchObject({ ok: true });
  }, 120_000);
});
