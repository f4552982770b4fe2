/**
 * The agent's integration essentials against three brokers, one suite run
 * over each (the aedes/MQTT.js habit of one abstract suite per interface):
 * aedes (our embedded broker), mosquitto 2, and nats-server's MQTT listener
 * (3.1.1, QoS 0/1). The agent is the real `dev2mqtt run` in a child process:
 * retained status, command → result, retained device state and availability,
 * a broker restart it comes back from, and the LWT when it is SIGKILLed.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { mosquittoItself } from '../helpers/mosquitto.js';
import { deadline } from '../helpers/deadline.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { requireTools } from '../helpers/tools.js';
import { startAedes, startMosquitto, startNats, type TestBroker } from './helpers/brokers.js';
import { spawnAgent, writeConfig, type ChildAgent } from './helpers/child-agent.js';

const brokers: Array<[string, () => Promise<TestBroker>, boolean]> = [
  ['aedes', startAedes, true],
  ['mosquitto', startMosquitto, mosquittoItself('interop with mosquitto')],
  ['nats', startNats, requireTools('interop with nats', 'nats-server')],
];

describe.each(brokers)('interop with %s', (name, start, available) => {
  const node = `io-${name}`;
  const base = `dev2mqtt/${node}`;
  let broker: TestBroker;
  let watcher: TestClient;
  let agent: ChildAgent;
  let configFile: string;

  /** A client of our own, speaking what this broker speaks. */
  const connect = (): Promise<TestClient> =>
    TestClient.connect(broker.url, { protocolVersion: broker.protocolVersion, reconnectPeriod: 200 });
  /**
   * What a fresh subscriber gets retained on `topic`, read with a new client until it is what the test
   * expects, or the deadline: MQTT does not order storing a retained message before delivering it live,
   * and nats-server keeps retained messages and sessions in JetStream, whose requests (4 s each) make a
   * new connection fail on a loaded machine. The last payload read is returned for the test's assertion.
   */
  async function retained(topic: string, want: (payload: string) => boolean): Promise<string> {
    const until = Date.now() + deadline(20_000);
    for (;;) {
      let last: string;
      try {
        const c = await connect();
        try {
          await c.subscribe(topic);
          const m = await c.next((x) => x.topic === topic, 20_000, `retained ${topic}`);
          last = m.retain ? m.payload : `(not retained: ${m.payload})`;
        } finally {
          await c.end();
        }
      } catch (e) {
        last = `(no retained message: ${(e as Error).message})`;
      }
      if (want(last) || Date.now() > until) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const is = (expected: string) => (payload: string) => payload === expected;
  const parsed = (payload: string): unknown => {
    try {
      return JSON.parse(payload);
    } catch {
      return payload;
    }
  };

  beforeAll(async () => {
    if (!available) return;
    broker = await start();
    watcher = await connect();
    await watcher.subscribe([`${base}/status`, `${base}/+/result`, `${base}/result`, `${base}/led0/state`]);
    const dir = tempDir('dev2mqtt-interop-');
    configFile = writeConfig(
      {
        node: { id: node, stateDir: path.join(dir, 'state') },
        mqtt: { url: broker.url, protocolVersion: broker.protocolVersion, keepaliveS: 5, reconnectMinMs: 100, reconnectMaxMs: 500 },
        devices: [{ id: 'led0', kind: 'led', sim: true, options: { pollMs: 0 } }],
        log: { level: 'warn' },
      },
      dir,
    );
    agent = spawnAgent(configFile);
    await watcher.next((m) => m.topic === `${base}/status` && m.payload === 'online', 30_000, 'online');
  });
  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await watcher?.end();
    await broker?.stop();
  });

  it.skipIf(!available)('status: retained "online"', async () => {
    expect(await retained(`${base}/status`, is('online'))).toBe('online');
  });

  it.skipIf(!available)('command → result, with an id, a plain payload, and a node command', async () => {
    expect(await watcher.command(`${base}/led0/cmd/set`, { state: 'ON', brightness: 40 }, `${name}-1`)).toMatchObject({
      id: `${name}-1`,
      device: 'led0',
      ok: true,
      result: { state: 'ON', brightness: 40 },
    });
    const before = watcher.on(`${base}/led0/result`).length;
    await watcher.publish(`${base}/led0/cmd/set`, 'OFF');
    const plain = await watcher.next(
      (m) => m.topic === `${base}/led0/result` && watcher.on(`${base}/led0/result`).indexOf(m) >= before,
      20_000,
      'result of OFF',
    );
    expect(JSON.parse(plain.payload)).toMatchObject({ ok: true, result: { state: 'OFF', brightness: 0 } });
    expect(await watcher.command(`${base}/cmd/ping`, {}, `${name}-ping`)).toMatchObject({ ok: true, result: { pong: true } });
  });

  it.skipIf(!available)('retained device state, availability and device list', async () => {
    // State publishes are throttled (telemetry.stateThrottleMs): quick changes coalesce, and
    // the last state always follows. So: one more change, and wait for it to be published.
    expect(await watcher.command(`${base}/led0/cmd/set`, { brightness: 77 }, `${name}-77`)).toMatchObject({ ok: true });
    await watcher.next(
      (m) => m.topic === `${base}/led0/state` && (JSON.parse(m.payload) as { brightness?: number }).brightness === 77,
      20_000,
      'state with brightness 77',
    );
    expect(parsed(await retained(`${base}/led0/state`, (p) => p.includes('"brightness":77')))).toMatchObject({
      state: 'ON',
      brightness: 77,
    });
    expect(await retained(`${base}/led0/availability`, is('online'))).toBe('online');
    expect(parsed(await retained(`${base}/devices`, (p) => p.includes('"id":"led0"')))).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'led0', kind: 'led' })]),
    );
  });

  it.skipIf(!available)('comes back after a broker restart: online again, commands answered', async () => {
    const seen = watcher.on(`${base}/status`).length;
    await broker.restart();
    await watcher.next(
      (m) => m.topic === `${base}/status` && m.payload === 'online' && watcher.on(`${base}/status`).indexOf(m) >= seen,
      30_000,
      'online after the restart',
    );
    expect(await watcher.command(`${base}/led0/cmd/set`, { value: 'ON' }, `${name}-2`)).toMatchObject({
      ok: true,
      result: { state: 'ON' },
    });
    expect(await retained(`${base}/status`, is('online'))).toBe('online');
  });

  it.skipIf(!available)('LWT: SIGKILL makes the broker publish retained "offline"', async () => {
    const seen = watcher.on(`${base}/status`).length;
    await agent.kill('SIGKILL');
    const lwt = await watcher.next(
      (m) => m.topic === `${base}/status` && watcher.on(`${base}/status`).indexOf(m) >= seen,
      30_000,
      'the LWT',
    );
    expect(lwt.payload).toBe('offline');
    expect(await retained(`${base}/status`, is('offline'))).toBe('offline');
  });
});
