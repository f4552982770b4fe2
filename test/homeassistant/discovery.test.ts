/**
 * Home Assistant discovery from a running agent with one demo device of each
 * kind: the retained configs as HA reads them (keys its platform schemas
 * require and know), templates rendered over the state the agent really
 * publishes, topics that exist, and the devices driven the way HA drives them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceCommandTopic, deviceTopic, nodeTopic, type TopicScheme } from '../../src/agent/topics.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { discoveryMessages, type DiscoveryMessage } from '../../src/homeassistant/discovery.js';
import { version } from '../../src/version.js';
import { startAgent } from '../helpers/agent.js';
import { demoDevices, missingKinds } from '../helpers/demo-devices.js';
import { PUBLISH_KEYS, schemaProblems, stateProblems, SUBSCRIBE_KEYS, TEMPLATE_KEYS } from '../helpers/ha-schema.js';
import { checkSyntax } from '../helpers/jinja-eval.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'pi-7', groups: [] };
type Config = Record<string, unknown>;

let agent: Agent;
let client: TestClient;
let expected: DiscoveryMessage[];
const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));

/** The latest retained payload of a topic as this client saw it. */
function latest(topic: string): Received | undefined {
  return client.on(topic).at(-1);
}

function config(m: DiscoveryMessage): Config {
  const r = latest(m.topic);
  if (!r) throw new Error(`no config on ${m.topic}`);
  return JSON.parse(r.payload) as Config;
}

/** Waits for a device state matching `pred`. */
async function stateOf(device: string, pred: (s: Record<string, unknown>) => boolean, what: string): Promise<string> {
  const topic = deviceTopic(T, device, 'state');
  const m = await client.next((x) => x.topic === topic && pred(JSON.parse(x.payload) as Record<string, unknown>), 20_000, what);
  return m.payload;
}

beforeAll(async () => {
  agent = await startAgent({ config: { node: { id: T.node }, homeassistant: { enabled: true }, devices: demoDevices() } });
  client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
  await client.subscribe(['homeassistant/#', 'dev2mqtt/#']);
  expected = discoveryMessages(
    { prefix: 'homeassistant', topics: T, version: version(), qos: 1 },
    agent.config.devices.map((d) => ({ id: d.id, name: d.name, sim: d.sim, options: d.options, kind: kinds.get(d.kind)! })),
    (device, err) => {
      throw new Error(`${device}: ${err.message}`);
    },
  );
  for (const m of expected) await client.next((x) => x.topic === m.topic, 20_000, `config ${m.topic}`);
  for (const d of demoDevices()) await client.next((x) => x.topic === deviceTopic(T, d.id, 'state'), 20_000, `state of ${d.id}`);
});

afterAll(async () => {
  await client?.end();
  await agent?.stop();
});

describe('Home Assistant discovery', () => {
  it('every built-in kind has a demo device, and every demo device has entities', () => {
    expect(missingKinds()).toEqual([]);
    for (const d of demoDevices()) expect(expected.filter((m) => m.device === d.id).length, d.id).toBeGreaterThan(0);
  });

  it('maps the kinds to the platforms the contract names', () => {
    const components = (id: string): string[] => [...new Set(expected.filter((m) => m.device === id).map((m) => m.component))].sort();
    expect(components('led0')).toEqual(['light']);
    expect(components('relay')).toEqual(['switch']);
    expect(components('button')).toEqual(['binary_sensor']);
    expect(components('modem0')).toEqual(['binary_sensor', 'sensor']);
    expect(components('tape0')).toEqual(['button', 'sensor']);
    expect(expected.filter((m) => m.device === undefined).map((m) => m.component)).toEqual(['sensor', 'sensor']);
  });

  it('publishes each config retained at {prefix}/{component}/{node}_{device}[_{part}]/config with the keys HA requires', () => {
    const ids = new Set<string>();
    for (const m of expected) {
      const r = latest(m.topic);
      expect(r?.retain, m.topic).toBe(true);
      const c = config(m);
      expect(schemaProblems(m.component, c), m.topic).toEqual([]);
      expect(m.topic).toMatch(new RegExp(`^homeassistant/${m.component}/${T.node}_[A-Za-z0-9_-]+/config$`));
      const objectId = m.topic.split('/')[2];
      expect(c.object_id).toBe(objectId);
      expect(c.default_entity_id).toBe(`${m.component}.${objectId}`);
      expect(c.unique_id).toBe(`dev2mqtt_${objectId}`);
      expect(ids.has(c.unique_id as string), `duplicate unique_id ${String(c.unique_id)}`).toBe(false);
      ids.add(c.unique_id as string);
      if (m.device) expect(objectId!.startsWith(`${T.node}_${m.device}`)).toBe(true);
    }
  });

  it('makes each device entity available only while both the node and the device are online', () => {
    for (const m of expected) {
      const c = config(m);
      const node = { topic: nodeTopic(T, 'status'), payload_available: 'online', payload_not_available: 'offline' };
      expect(c.availability_mode, m.topic).toBe('all');
      expect(c.availability, m.topic).toEqual(m.device ? [node, { ...node, topic: deviceTopic(T, m.device, 'availability') }] : [node]);
    }
  });

  it('gives every entity a device block under the node, and an origin block', () => {
    const nodeId = `dev2mqtt_${T.node}`;
    for (const m of expected) {
      const c = config(m);
      expect(c.origin).toEqual({ name: 'dev2mqtt', sw_version: version() });
      const device = c.device as Config;
      expect(device).toMatchObject({ manufacturer: 'dev2mqtt', sw_version: version() });
      if (m.device) {
        const d = demoDevices().find((x) => x.id === m.device)!;
        expect(device).toEqual({
          identifiers: [`dev2mqtt_${T.node}_${d.id}`],
          name: d.name,
          model: `${d.kind} (simulated)`,
          manufacturer: 'dev2mqtt',
          sw_version: version(),
          via_device: nodeId,
        });
      } else {
        expect(device).toEqual({
          identifiers: [nodeId],
          name: T.node,
          model: 'dev2mqtt agent',
          manufacturer: 'dev2mqtt',
          sw_version: version(),
        });
        expect(c.entity_category).toBe('diagnostic');
      }
    }
    const nodeSensors = expected.filter((m) => !m.device).map((m) => config(m));
    expect(nodeSensors.map((c) => [c.device_class, c.unit_of_measurement])).toEqual([
      ['duration', 's'],
      ['data_size', 'B'],
    ]);
  });

  it('uses only topics the agent publishes (retained) or subscribes to', () => {
    for (const m of expected) {
      const c = config(m);
      const topics = [...SUBSCRIBE_KEYS.map((k) => c[k]), ...(c.availability as Config[]).map((a) => a.topic)].filter(
        (t): t is string => typeof t === 'string',
      );
      for (const topic of topics) expect(latest(topic)?.retain, `${m.topic}: ${topic} carries nothing retained`).toBe(true);
      for (const key of PUBLISH_KEYS) {
        if (c[key] === undefined) continue;
        const d = demoDevices().find((x) => x.id === m.device)!;
        const commands = Object.keys(kinds.get(d.kind)!.commands);
        expect(
          commands.map((cmd) => deviceCommandTopic(T, d.id, cmd)),
          `${m.topic}: ${key}`,
        ).toContain(c[key]);
      }
    }
  });

  it('renders every value template over the state the agent publishes, as HA would take it', () => {
    for (const m of expected) {
      const c = config(m);
      for (const k of TEMPLATE_KEYS)
        if (typeof c[k] === 'string') expect(() => checkSyntax(c[k] as string), `${m.topic} ${k}`).not.toThrow();
      const stateTopic = c.state_topic as string | undefined;
      if (!stateTopic) continue;
      const payload = latest(stateTopic)!.payload;
      expect(stateProblems(m.component, c, payload).problems, `${m.topic} over ${payload}`).toEqual([]);
    }
  });

  it('drives the devices with the payloads HA sends, and the state follows', async () => {
    const byDevice = (id: string): Config => config(expected.find((m) => m.device === id)!);
    const light = byDevice('led0');
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', brightness: 128 }));
    let s = await stateOf('led0', (x) => x.brightness === 128, 'led0 at brightness 128');
    expect(stateProblems('light', light, s)).toEqual({ value: 'ON', problems: [] });
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', effect: 'heartbeat' }));
    s = await stateOf('led0', (x) => x.effect === 'heartbeat', 'led0 running heartbeat');
    expect(stateProblems('light', light, s).problems).toEqual([]);
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'OFF' }));
    s = await stateOf('led0', (x) => x.state === 'OFF', 'led0 off');
    expect(stateProblems('light', light, s)).toEqual({ value: 'OFF', problems: [] });

    const sw = byDevice('relay');
    await client.publish(sw.command_topic as string, sw.payload_on as string);
    s = await stateOf('relay', (x) => x.value === 1, 'relay on');
    expect(stateProblems('switch', sw, s)).toEqual({ value: 'ON', problems: [] });
    await client.publish(sw.command_topic as string, sw.payload_off as string);
    s = await stateOf('relay', (x) => x.value === 0, 'relay off');
    expect(stateProblems('switch', sw, s)).toEqual({ value: 'OFF', problems: [] });

    for (const m of expected.filter((x) => x.component === 'button')) {
      const b = config(m);
      const topic = b.command_topic as string;
      const command = topic.split('/').at(-1);
      const seen = client.messages.length;
      await client.publish(topic, (b.payload_press as string | undefined) ?? 'PRESS');
      const r = await client.next(
        (x) =>
          client.messages.indexOf(x) >= seen &&
          x.topic === deviceTopic(T, m.device!, 'result') &&
          (JSON.parse(x.payload) as Config).command === command,
        20_000,
        `result of ${topic}`,
      );
      expect(JSON.parse(r.payload), topic).toMatchObject({ ok: true });
    }
  });

  it('renders every state the devices went through meanwhile (busy, unloaded, lit, dark)', () => {
    let rendered = 0;
    for (const m of expected) {
      const c = config(m);
      const stateTopic = c.state_topic as string | undefined;
      if (!stateTopic) continue;
      for (const s of client.on(stateTopic)) {
        expect(stateProblems(m.component, c, s.payload).problems, `${m.topic} over ${s.payload}`).toEqual([]);
        rendered++;
      }
    }
    expect(rendered).toBeGreaterThan(expected.length);
  });

  it('republishes every config when HA announces itself online', async () => {
    const before = new Map(expected.map((m) => [m.topic, client.on(m.topic).length]));
    await client.publish('homeassistant/status', 'online');
    for (const m of expected) {
      await client.next(() => client.on(m.topic).length > before.get(m.topic)!, 20_000, `${m.topic} again after the birth message`);
    }
  });
});
