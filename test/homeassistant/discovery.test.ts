/**
 * Home Assistant discovery from a running agent with one demo device of each
 * kind, in the default device-based form: one retained config per device
 * (and one for the node), taken apart as HA takes it apart, every template
 * rendered by Jinja over the states and events the agent really publishes,
 * topics that exist, and the devices driven the way HA drives them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceCommandTopic, deviceTopic, nodeTopic, type TopicScheme } from '../../src/agent/topics.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { SIM_IDENTITY } from '../../src/devices/serial/sim/at-model.js';
import { version } from '../../src/version.js';
import { startAgent } from '../helpers/agent.js';
import { demoDevices, missingKinds } from '../helpers/demo-devices.js';
import { checkStates, parseDiscovery, type Discovered } from '../helpers/ha-discovered.js';
import { PUBLISH_KEYS, SUBSCRIBE_KEYS, type DiscoveredComponent } from '../helpers/ha-schema.js';
import { stateProblems } from '../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../helpers/ha-templates.js';
import { TestClient } from '../helpers/mqtt-client.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'pi-7', groups: [] };
const NODE_TOPIC = 'homeassistant/device/pi-7/config';
const deviceTopicOf = (id: string): string => `homeassistant/device/pi-7/${id}/config`;
type Config = Record<string, unknown>;

let agent: Agent;
let client: TestClient;
let templates: HaTemplates;
const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));

/** The latest config on a topic, as HA takes it apart. */
function discovered(topic: string): Discovered {
  const r = client.on(topic).at(-1);
  if (!r) throw new Error(`no config on ${topic}`);
  return parseDiscovery('homeassistant', topic, r.payload);
}

const allTopics = (): string[] => [NODE_TOPIC, ...demoDevices().map((d) => deviceTopicOf(d.id))];
const components = (topic: string): DiscoveredComponent[] => discovered(topic).components;
const component = (topic: string, key: string): DiscoveredComponent => {
  const c = components(topic).find((x) => x.key === key);
  if (!c) throw new Error(`no component ${key} in ${topic}`);
  return c;
};

describe.skipIf(!haveJinja())('Home Assistant discovery, device-based', () => {
  beforeAll(async () => {
    templates = HaTemplates.start();
    agent = await startAgent({ config: { node: { id: T.node }, homeassistant: { enabled: true }, devices: demoDevices() } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['homeassistant/#', 'dev2mqtt/#']);
    for (const topic of allTopics()) await client.next((x) => x.topic === topic, 20_000, `config ${topic}`);
    for (const d of demoDevices()) await client.next((x) => x.topic === deviceTopic(T, d.id, 'state'), 20_000, `state of ${d.id}`);
  });

  afterAll(async () => {
    await client?.end();
    await agent?.stop();
    await templates?.close();
  });

  it('publishes one retained config per device and one for the node, and nothing per entity', () => {
    expect(missingKinds()).toEqual([]);
    const configs = [...new Set(client.messages.filter((m) => m.topic.endsWith('/config')).map((m) => m.topic))].sort();
    expect(configs).toEqual(allTopics().sort());
    for (const topic of configs)
      expect(
        client.on(topic).every((m) => m.retain),
        topic,
      ).toBe(true);
  });

  it('is what HA device discovery takes: dev, o, availability and cmps, each component valid', () => {
    for (const topic of allTopics()) {
      const d = discovered(topic);
      expect(d.problems, topic).toEqual([]);
      expect(Object.keys(d.payload).sort(), topic).toEqual(['availability', 'availability_mode', 'cmps', 'dev', 'o', 'qos', 'state_topic']);
      expect(d.payload.o).toEqual({ name: 'dev2mqtt', sw_version: version() });
      expect(
        d.components.some((c) => c.removal),
        topic,
      ).toBe(false);
    }
  });

  it('maps the kinds to the platforms the contract names', () => {
    const platforms = (topic: string): string[] =>
      components(topic)
        .map((c) => c.component)
        .sort();
    expect(platforms(deviceTopicOf('led0'))).toEqual(['light']);
    expect(platforms(deviceTopicOf('relay'))).toEqual(['switch']);
    expect(platforms(deviceTopicOf('button'))).toEqual(['binary_sensor', 'event']);
    expect(platforms(deviceTopicOf('modem0'))).toEqual([...Array(4).fill('binary_sensor'), ...Array(4).fill('sensor')]);
    expect(platforms(deviceTopicOf('tape0'))).toEqual(['button', 'button', 'sensor', 'sensor']);
    expect(platforms(NODE_TOPIC)).toEqual(['binary_sensor', 'button', 'sensor', 'sensor', 'sensor', 'sensor']);
    for (const c of components(NODE_TOPIC)) expect(c.config.entity_category, c.key).toBe('diagnostic');
  });

  it('gives ids no other node can have, and keeps the entity ids users had', () => {
    const ids = new Set<string>();
    for (const topic of allTopics()) {
      const d = discovered(topic);
      const device = d.objectId === T.node ? undefined : d.objectId;
      expect((d.payload.dev as Config).identifiers).toEqual([device ? `dev2mqtt:pi-7:${device}` : 'dev2mqtt:pi-7']);
      for (const c of d.components) {
        const part = c.key === c.component ? undefined : c.key.slice(c.component.length + 1);
        const unique = c.config.unique_id as string;
        expect(unique).toBe(`dev2mqtt:pi-7:${device ?? ''}${part ? `:${part}` : ''}`);
        expect(ids.has(unique), `duplicate unique_id ${unique}`).toBe(false);
        ids.add(unique);
        expect(c.config.default_entity_id).toBe(`${c.component}.pi_7_${device ?? 'agent'}${part ? `_${part}` : ''}`);
      }
    }
  });

  it('makes device entities available only while both the node and the device are online', () => {
    const status = { topic: nodeTopic(T, 'status'), payload_available: 'online', payload_not_available: 'offline' };
    expect(discovered(NODE_TOPIC).payload.availability).toEqual([status]);
    for (const d of demoDevices()) {
      const p = discovered(deviceTopicOf(d.id)).payload;
      expect(p.availability_mode).toBe('all');
      expect(p.availability).toEqual([status, { ...status, topic: deviceTopic(T, d.id, 'availability') }]);
      expect((p.dev as Config).via_device).toBe('dev2mqtt:pi-7');
    }
  });

  it("describes the hardware where it tells: the modem's answers, the LED's own triggers and scale", async () => {
    // What a device reads at open reaches its config at the first announce, or (open slower than the
    // announce waits for) in the republish that follows.
    const modemConfig = await client.next(
      (m) => m.topic === deviceTopicOf('modem0') && m.payload.includes(SIM_IDENTITY.imei),
      20_000,
      'the modem config with what the modem answered',
    );
    expect(parseDiscovery('homeassistant', modemConfig.topic, modemConfig.payload).payload.dev).toMatchObject({
      name: 'Simulated LTE modem',
      manufacturer: SIM_IDENTITY.manufacturer,
      model: SIM_IDENTITY.model,
      hw_version: SIM_IDENTITY.revision,
      serial_number: SIM_IDENTITY.imei,
      sw_version: version(),
    });
    const ledState = JSON.parse(client.on(deviceTopic(T, 'led0', 'state')).at(-1)!.payload) as Config;
    const ledConfig = await client.next(
      (m) => m.topic === deviceTopicOf('led0') && m.payload.includes(JSON.stringify(ledState.triggers)),
      20_000,
      "the LED config with the LED's triggers",
    );
    const light = parseDiscovery('homeassistant', ledConfig.topic, ledConfig.payload).components[0]!.config;
    expect(light.effect_list).toEqual(ledState.triggers);
    expect(light.brightness_scale).toBe(ledState.maxBrightness);
    // Nothing to read for a simulated tape drive: the kind stands for the model.
    expect(discovered(deviceTopicOf('tape0')).payload.dev).toMatchObject({ model: 'tape (simulated)' });
    expect(discovered(deviceTopicOf('tape0')).payload.dev).not.toHaveProperty('manufacturer');
  });

  it('uses only topics the agent publishes (retained) or subscribes to', async () => {
    const reads = new Set<string>();
    for (const topic of allTopics()) {
      for (const c of discovered(topic).components) {
        if (c.component === 'event') continue;
        for (const r of [...SUBSCRIBE_KEYS.map((k) => c.config[k]), ...(c.config.availability as Config[]).map((a) => a.topic)]) {
          if (typeof r === 'string') reads.add(r);
        }
      }
    }
    // A client subscribing now gets each one retained (live messages to an earlier subscription carry no retain flag).
    const fresh = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    try {
      await fresh.subscribe([...reads]);
      for (const r of reads) await fresh.next((m) => m.topic === r && m.retain, 20_000, `${r} retained`);
    } finally {
      await fresh.end();
    }
    for (const topic of allTopics()) {
      const d = discovered(topic);
      for (const c of d.components) {
        for (const key of PUBLISH_KEYS) {
          if (c.config[key] === undefined) continue;
          const commands =
            d.objectId === T.node
              ? [`dev2mqtt/pi-7/cmd/announce`]
              : Object.keys(kinds.get(demoDevices().find((x) => x.id === d.objectId)!.kind)!.commands).map((cmd) =>
                  deviceCommandTopic(T, d.objectId, cmd),
                );
          expect(commands, `${topic} ${c.key}`).toContain(c.config[key]);
        }
      }
      expect(component(deviceTopicOf('button'), 'event_event').config.state_topic).toBe(deviceTopic(T, 'button', 'event'));
    }
  });

  it('renders every template over the state the agent publishes, as HA would take it', async () => {
    for (const topic of allTopics()) {
      const { problems, judged } = await checkStates(templates, client, components(topic), (all) => all.slice(-1));
      expect(problems, topic).toEqual([]);
      if (topic !== deviceTopicOf('button')) expect(judged, topic).toBeGreaterThan(0);
    }
  });

  it('fires the button event entity with press and release as the button toggles', async () => {
    const ev = component(deviceTopicOf('button'), 'event_event');
    expect(ev.config).toMatchObject({ event_types: ['press', 'release'], device_class: 'button' });
    const fired: Record<number, string> = {};
    for (const value of [1, 0]) {
      const edge = await client.next(
        (m) => m.topic === deviceTopic(T, 'button', 'event') && (JSON.parse(m.payload) as Config).value === value,
        30_000,
        `an edge to ${value}`,
      );
      expect(edge.retain).toBe(false);
      const v = await stateProblems(templates, 'event', ev.config, edge.payload);
      expect(v.problems).toEqual([]);
      fired[value] = v.value;
    }
    // The line going active (1) is a press, going back a release.
    expect(fired).toEqual({ 1: 'press', 0: 'release' });
    // An edge seen while the broker was away comes later with `replayed: true` (the offline buffer): HA would
    // fire it as a press now, as it would a retained one (which it ignores), so it renders nothing.
    const pressed = client.on(deviceTopic(T, 'button', 'event')).find((m) => (JSON.parse(m.payload) as Config).value === 1)!;
    const replayed = JSON.stringify({ ...(JSON.parse(pressed.payload) as Config), replayed: true });
    expect(await stateProblems(templates, 'event', ev.config, replayed)).toEqual({ value: '', problems: [] });
    // Other events on the topic render nothing, which HA ignores.
    expect(await stateProblems(templates, 'event', ev.config, JSON.stringify({ type: 'progress', ts: 1 }))).toEqual({
      value: '',
      problems: [],
    });
  });

  it('drives the devices with the payloads HA sends, and the state follows', async () => {
    const stateOf = (id: string, pred: (s: Config) => boolean, what: string) =>
      client.next((x) => x.topic === deviceTopic(T, id, 'state') && pred(JSON.parse(x.payload) as Config), 20_000, what);
    const light = component(deviceTopicOf('led0'), 'light').config;
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', brightness: 128 }));
    let s = await stateOf('led0', (x) => x.brightness === 128, 'led0 at 128');
    expect(await stateProblems(templates, 'light', light, s.payload)).toEqual({ value: 'ON', problems: [] });
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', effect: 'heartbeat' }));
    s = await stateOf('led0', (x) => x.effect === 'heartbeat', 'led0 running heartbeat');
    expect((await stateProblems(templates, 'light', light, s.payload)).problems).toEqual([]);

    const sw = component(deviceTopicOf('relay'), 'switch').config;
    await client.publish(sw.command_topic as string, sw.payload_on as string);
    s = await stateOf('relay', (x) => x.value === 1, 'relay on');
    expect(await stateProblems(templates, 'switch', sw, s.payload)).toEqual({ value: 'ON', problems: [] });

    for (const b of components(deviceTopicOf('tape0')).filter((x) => x.component === 'button')) {
      const topic = b.config.command_topic as string;
      const seen = client.messages.length;
      await client.publish(topic, b.config.payload_press as string);
      const r = await client.next(
        (x) =>
          client.messages.indexOf(x) >= seen &&
          x.topic === deviceTopic(T, 'tape0', 'result') &&
          x.payload.includes(`"command":"${topic.split('/').at(-1)}"`),
        20_000,
        `result of ${topic}`,
      );
      expect(JSON.parse(r.payload), topic).toMatchObject({ ok: true });
    }
  });

  it("shows the node's last error and commands per minute", async () => {
    await client.publish(deviceCommandTopic(T, 'relay', 'set'), 'sideways');
    const state = await client.next(
      (m) =>
        m.topic === nodeTopic(T, 'state') && (JSON.parse(m.payload) as { lastError?: { code?: string } }).lastError?.code === 'bad_args',
      20_000,
      'node state with the last error',
    );
    const lastError = component(NODE_TOPIC, 'sensor_last_error').config;
    expect(await stateProblems(templates, 'sensor', lastError, state.payload)).toEqual({ value: 'bad_args', problems: [] });
    const attrs = await templates.render({
      mode: 'attributes',
      template: lastError.json_attributes_template as string,
      payload: state.payload,
    });
    expect(JSON.parse(attrs.output!)).toMatchObject({ code: 'bad_args', device: 'relay', command: 'set' });
    const perMinute = await stateProblems(templates, 'sensor', component(NODE_TOPIC, 'sensor_commands_per_minute').config, state.payload);
    expect(Number(perMinute.value)).toBeGreaterThanOrEqual(1);
  });

  it("shows the command journal's health: a problem while degraded, with the reason; unknown where the state does not say", async () => {
    const journal = component(NODE_TOPIC, 'binary_sensor_journal').config;
    expect(journal).toMatchObject({ device_class: 'problem', entity_category: 'diagnostic' });
    const node = JSON.parse(client.on(nodeTopic(T, 'state')).at(-1)!.payload) as Config;
    const as = (more: Config) => JSON.stringify({ ...node, ...more });
    expect(await stateProblems(templates, 'binary_sensor', journal, as({ journal: 'ok' }))).toEqual({ value: 'OFF', problems: [] });
    const degraded = as({ journal: 'degraded', journalReason: 'ENOSPC writing the journal' });
    expect(await stateProblems(templates, 'binary_sensor', journal, degraded)).toEqual({ value: 'ON', problems: [] });
    const attrs = await templates.render({ mode: 'attributes', template: journal.json_attributes_template as string, payload: degraded });
    expect(JSON.parse(attrs.output!)).toEqual({ reason: 'ENOSPC writing the journal' });
    const { journal: _, journalReason: __, ...silent } = node;
    expect(await stateProblems(templates, 'binary_sensor', journal, JSON.stringify(silent))).toEqual({ value: 'None', problems: [] });
  });

  it('renders every state the devices went through meanwhile (busy, unloaded, lit, dark, failed)', async () => {
    let judged = 0;
    for (const topic of allTopics()) {
      const r = await checkStates(templates, client, components(topic));
      expect(r.problems, topic).toEqual([]);
      judged += r.judged;
    }
    expect(judged).toBeGreaterThan(30);
  });

  it("republishes every config on the node's announce button and when HA announces itself", async () => {
    for (const trigger of ['button', 'birth'] as const) {
      const before = new Map(allTopics().map((t) => [t, client.on(t).length]));
      if (trigger === 'button') {
        const b = component(NODE_TOPIC, 'button_announce').config;
        await client.publish(b.command_topic as string, b.payload_press as string);
      } else {
        await client.publish('homeassistant/status', 'online');
      }
      for (const t of allTopics()) await client.next(() => client.on(t).length > before.get(t)!, 20_000, `${t} again after the ${trigger}`);
    }
  });
});
