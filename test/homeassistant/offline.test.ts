/**
 * Devices that cannot be opened (nothing at their paths) still publish a
 * state, and Home Assistant still reads it while the entity shows
 * unavailable: every entity must take that state without an error or a
 * template warning (the JSON light needs its `state` key, for one), and
 * values never read show as unknown, not as off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceTopic, type TopicScheme } from '../../src/agent/topics.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { checkStates, parseDiscovery } from '../helpers/ha-discovered.js';
import { stateProblems } from '../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../helpers/ha-templates.js';
import { TestClient } from '../helpers/mqtt-client.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'n', groups: [] };
const empty = tempDir('dev2mqtt-nothing-');
const devices = [
  { id: 'led', kind: 'led', options: { name: 'ACT', sysfsRoot: empty } },
  { id: 'sw', kind: 'gpio', options: { chip: `${empty}/gpiochip0`, line: 3, direction: 'out' } },
  { id: 'bin', kind: 'gpio', options: { chip: `${empty}/gpiochip0`, line: 4, edge: 'both' } },
  { id: 'ser', kind: 'serial', options: { path: `${empty}/ttyUSB0` } },
  { id: 'tape', kind: 'tape', options: { path: `${empty}/nst0` } },
];

let agent: Agent;
let client: TestClient;
let templates: HaTemplates;

describe.skipIf(!haveJinja())('discovery over devices that are offline', () => {
  beforeAll(async () => {
    templates = HaTemplates.start();
    agent = await startAgent({ config: { node: { id: 'n' }, homeassistant: { enabled: true }, devices } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['homeassistant/#', 'dev2mqtt/n/+/state', 'dev2mqtt/n/+/availability']);
  });
  afterAll(async () => {
    await client?.end();
    await agent?.stop();
    await templates?.close();
  });

  it('every entity takes their state without an error', async () => {
    let judged = 0;
    for (const d of devices) {
      await client.next((m) => m.topic === deviceTopic(T, d.id, 'availability') && m.payload === 'offline', 20_000, `${d.id} offline`);
      await client.next((m) => m.topic === deviceTopic(T, d.id, 'state'), 20_000, `${d.id} state`);
      const topic = `homeassistant/device/n/${d.id}/config`;
      const config = await client.next((m) => m.topic === topic, 20_000, topic);
      const found = parseDiscovery('homeassistant', topic, config.payload);
      expect(found.problems, topic).toEqual([]);
      const r = await checkStates(templates, client, found.components, (all) => all.filter((m) => m.topic.endsWith('/state')));
      expect(r.problems, topic).toEqual([]);
      judged += r.judged;
    }
    expect(judged).toBeGreaterThanOrEqual(devices.length);
  });

  it('shows a GPIO line never read as unknown, not off', async () => {
    for (const id of ['sw', 'bin']) {
      const topic = `homeassistant/device/n/${id}/config`;
      const found = parseDiscovery('homeassistant', topic, (await client.next((m) => m.topic === topic, 20_000, topic)).payload);
      const main = found.components.find((c) => c.component === 'switch' || c.component === 'binary_sensor')!;
      const state = await client.next((m) => m.topic === deviceTopic(T, id, 'state'), 20_000, `${id} state`);
      expect(JSON.parse(state.payload)).toMatchObject({ value: null });
      expect(await stateProblems(templates, main.component, main.config, state.payload)).toEqual({ value: 'None', problems: [] });
    }
  });
});
