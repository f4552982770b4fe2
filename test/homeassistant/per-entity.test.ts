/**
 * The per-entity form (homeassistant.discovery "entity"), for brokers or
 * Home Assistant installs older than device-based discovery: one retained
 * config per entity at {prefix}/{component}/{node}/{device}[_{part}]/config,
 * each one complete (device, origin, availability) and passing the same
 * schema and template checks, with the same ids as the device form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceTopic } from '../../src/agent/topics.js';
import { startAgent } from '../helpers/agent.js';
import { demoDevices } from '../helpers/demo-devices.js';
import { checkStates, parseDiscovery, type Discovered } from '../helpers/ha-discovered.js';
import { HaTemplates, haveJinja } from '../helpers/ha-templates.js';
import { TestClient } from '../helpers/mqtt-client.js';

let agent: Agent;
let client: TestClient;
let templates: HaTemplates;
/** One entity of each kind's main platform, and a node entity: configs that must arrive. */
const EXPECTED = [
  'homeassistant/light/pi-7/led0/config',
  'homeassistant/switch/pi-7/relay/config',
  'homeassistant/binary_sensor/pi-7/button/config',
  'homeassistant/event/pi-7/button_event/config',
  'homeassistant/sensor/pi-7/modem0_signal/config',
  'homeassistant/binary_sensor/pi-7/modem0_ri/config',
  'homeassistant/button/pi-7/tape0_rewind/config',
  'homeassistant/sensor/pi-7/agent_uptime/config',
  'homeassistant/button/pi-7/agent_announce/config',
];

describe.skipIf(!haveJinja())('Home Assistant discovery, per entity', () => {
  let configs: Discovered[];
  beforeAll(async () => {
    templates = HaTemplates.start();
    agent = await startAgent({
      config: { node: { id: 'pi-7' }, homeassistant: { enabled: true, discovery: 'entity' }, devices: demoDevices() },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['homeassistant/#', 'dev2mqtt/#']);
    for (const topic of EXPECTED) await client.next((m) => m.topic === topic, 20_000, topic);
    for (const d of demoDevices()) await client.next((m) => m.topic === deviceTopic(agent.topics, d.id, 'state'), 20_000, `${d.id} state`);
    const topics = [...new Set(client.messages.filter((m) => m.topic.endsWith('/config')).map((m) => m.topic))];
    configs = topics.map((t) => parseDiscovery('homeassistant', t, client.on(t).at(-1)!.payload));
  });
  afterAll(async () => {
    await client?.end();
    await agent?.stop();
    await templates?.close();
  });

  it('publishes one config per entity, under the node level, each passing the schema check', async () => {
    // As many as the node's announce publishes: every entity of every kind, whichever kinds are built in.
    const from = client.messages.length;
    await client.publish('dev2mqtt/pi-7/cmd/announce', JSON.stringify({ id: 'count' }));
    const answer = await client.next(
      (m) => client.messages.indexOf(m) >= from && m.topic === 'dev2mqtt/pi-7/result' && m.payload.includes('"count"'),
      20_000,
      'the announce result',
    );
    const { result } = JSON.parse(answer.payload) as { result: { discoveryConfigs: number } };
    expect(configs.length).toBe(result.discoveryConfigs);
    expect(configs.length).toBeGreaterThan(EXPECTED.length);
    for (const c of configs) {
      expect(c.nodeId, c.topic).toBe('pi-7');
      expect(c.component).not.toBe('device');
      expect(c.problems, c.topic).toEqual([]);
      expect(Object.keys(c.payload)).toEqual(
        expect.arrayContaining(['device', 'origin', 'availability', 'unique_id', 'default_entity_id', 'qos']),
      );
      expect(c.payload).not.toHaveProperty('object_id');
    }
    const ids = configs.map((c) => c.payload.unique_id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(configs.find((c) => c.topic === EXPECTED[3])!.payload).toMatchObject({
      unique_id: 'dev2mqtt:pi-7:button:event',
      default_entity_id: 'event.pi_7_button_event',
      state_topic: 'dev2mqtt/pi-7/button/event',
    });
  });

  it('renders every template over the states the agent publishes', async () => {
    const r = await checkStates(
      templates,
      client,
      configs.flatMap((c) => c.components),
      (all) => all.slice(-3),
    );
    expect(r.problems).toEqual([]);
    // Every entity that reads a topic judged at least once (the event's topic holds nothing retained to read back).
    expect(r.judged).toBeGreaterThanOrEqual(configs.filter((c) => typeof c.payload.state_topic === 'string').length - 1);
  });
});
