/**
 * The contract through real MQTT: against the embedded broker and against a
 * real mosquitto, driven with the real mosquitto_pub and mosquitto_sub (the
 * embedded case with MQTT.js running the same command lines where the
 * mosquitto clients are not installed).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { Mosquitto, mosquittoItself, mosquittoPub, mosquittoSub } from '../helpers/mosquitto.js';
import { probes } from '../helpers/test-kinds.js';

type BrokerCase = { name: string; setup(): Promise<{ port: number; url: string; close(): Promise<void> }> };

const brokers: BrokerCase[] = [{ name: 'embedded aedes', setup: async () => ({ port: 0, url: 'embedded', close: async () => undefined }) }];
if (mosquittoItself('the contract over mosquitto')) {
  brokers.push({
    name: 'mosquitto',
    setup: async () => {
      const m = await Mosquitto.start();
      return { port: m.port, url: m.url, close: () => m.stop() };
    },
  });
}

describe.each(brokers)('contract over $name', (bc) => {
  let broker: Awaited<ReturnType<BrokerCase['setup']>>;
  let agent: Agent;
  let port: number;

  beforeAll(async () => {
    broker = await bc.setup();
    agent = await startAgent({
      config: {
        mqtt: { url: broker.url },
        devices: [
          { id: 'p1', kind: 'probe' },
          { id: 'p2', kind: 'probe' },
        ],
      },
    });
    port = broker.url === 'embedded' ? (agent.brokerPort as number) : broker.port;
  });
  afterAll(async () => {
    await agent.stop();
    await broker.close();
  });

  it('status is retained "online"', async () => {
    const sub = await mosquittoSub(port, 'dev2mqtt/t1/status', { count: 1 });
    expect(await sub.lines).toEqual(['dev2mqtt/t1/status online']);
  });

  it('a command from mosquitto_pub gets its result on the device result topic', async () => {
    const sub = await mosquittoSub(port, 'dev2mqtt/t1/p1/result', { count: 1 });
    expect((await mosquittoPub(port, 'dev2mqtt/t1/p1/cmd/echo', '{"id":"e1","value":"hello"}')).status).toBe(0);
    const [line] = await sub.lines;
    const [topic, json] = [line?.slice(0, line.indexOf(' ')), line?.slice(line.indexOf(' ') + 1)];
    expect(topic).toBe('dev2mqtt/t1/p1/result');
    expect(JSON.parse(json ?? '')).toMatchObject({
      id: 'e1',
      node: 't1',
      device: 'p1',
      command: 'echo',
      ok: true,
      result: { value: 'hello' },
    });
  });

  it('plain payloads become {value}, and results without an id get one made up', async () => {
    const sub = await mosquittoSub(port, 'dev2mqtt/t1/p2/result', { count: 1 });
    await mosquittoPub(port, 'dev2mqtt/t1/p2/cmd/echo', 'ON');
    const r = JSON.parse((await sub.lines)[0]?.split(' ').slice(1).join(' ') ?? '') as { id: string; ok: boolean; result: unknown };
    expect(r.ok).toBe(true);
    expect(r.result).toEqual({ value: 'ON' });
    expect(r.id).toMatch(/^[0-9a-f]{6}-[0-9a-z]+$/);
  });

  it('devices self-description and device state are retained', async () => {
    const sub = await mosquittoSub(port, ['dev2mqtt/t1/devices', 'dev2mqtt/t1/p1/availability', 'dev2mqtt/t1/state'], { count: 3 });
    const lines = await sub.lines;
    const devices = lines.find((l) => l.startsWith('dev2mqtt/t1/devices '));
    const list = JSON.parse(devices?.slice('dev2mqtt/t1/devices '.length) ?? '[]') as Array<{
      id: string;
      kind: string;
      commands: Record<string, unknown>;
    }>;
    expect(list.map((d) => d.id)).toEqual(['p1', 'p2']);
    expect(list[0]?.commands.sleep).toEqual({ ms: { type: 'integer', min: 0, max: 600000 } });
    expect(lines).toContain('dev2mqtt/t1/p1/availability online');
    const state = JSON.parse(lines.find((l) => l.startsWith('dev2mqtt/t1/state '))?.slice('dev2mqtt/t1/state '.length) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(state).toMatchObject({ node: 't1', devices: ['p1', 'p2'] });
    expect(state.rssBytes).toBeGreaterThan(0);
    expect(state).toHaveProperty('uptimeS');
    expect(state).toHaveProperty('version');
    expect(state).toHaveProperty('load');
  });

  it('1,000 commands to one device run in order with 1,000 results', async () => {
    const n = 1000;
    const sub = await mosquittoSub(port, 'dev2mqtt/t1/p1/result', { count: n, timeoutS: 120, noRetained: true });
    const input = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `seq-${i}`, value: i })).join('\n');
    expect((await mosquittoPub(port, 'dev2mqtt/t1/p1/cmd/set', null, [], `${input}\n`)).status).toBe(0);
    const results = (await sub.lines).map(
      (l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { id: string; ok: boolean; result: { value: number } },
    );
    expect(results).toHaveLength(n);
    expect(results.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => `seq-${i}`));
    expect(results.every((r, i) => r.ok && r.result.value === i)).toBe(true);
    expect(probes.get('p1')?.value).toBe(n - 1);
  });
});

describe.skipIf(!mosquittoItself('MQTT 5 on mosquitto (aedes speaks 3.1.1 only)'))('MQTT 5 on mosquitto', () => {
  let broker: Mosquitto;
  let agent: Agent | undefined;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker.stop();
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('a command with a Response Topic gets its result there too, with the same Correlation Data', async () => {
    agent = await startAgent({ config: { mqtt: { url: broker.url, protocolVersion: 5 } } });
    const sub = await mosquittoSub(broker.port, 'replies/me', { count: 1, v5: true, format: '%t|%D|%p' });
    await mosquittoPub(broker.port, 'dev2mqtt/t1/p1/cmd/echo', '{"id":"r5","value":1}', [
      '-V',
      'mqttv5',
      '-D',
      'publish',
      'response-topic',
      'replies/me',
      '-D',
      'publish',
      'correlation-data',
      'corr-42',
    ]);
    const [line] = await sub.lines;
    const [topic, corr, payload] = (line ?? '').split('|');
    expect(topic).toBe('replies/me');
    expect(corr).toBe('corr-42');
    expect(JSON.parse(payload ?? '')).toMatchObject({ id: 'r5', ok: true, result: { value: 1 } });
  });
});
