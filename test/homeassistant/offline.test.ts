/**
 * Devices that cannot be opened (nothing at their paths) still publish a
 * state, and Home Assistant still reads it while the entity shows
 * unavailable: every entity must take that state without an error or a
 * template warning (the JSON light needs its `state` key, for one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceTopic, type TopicScheme } from '../../src/agent/topics.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { discoveryMessages } from '../../src/homeassistant/discovery.js';
import { version } from '../../src/version.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { stateProblems } from '../helpers/ha-schema.js';
import { TestClient } from '../helpers/mqtt-client.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'n', groups: [] };
const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));
const empty = tempDir('dev2mqtt-nothing-');
const devices = [
  { id: 'led', kind: 'led', options: { name: 'ACT', sysfsRoot: empty } },
  { id: 'sw', kind: 'gpio', options: { chip: `${empty}/gpiochip0`, line: 3, direction: 'out' } },
  { id: 'bin', kind: 'gpio', options: { chip: `${empty}/gpiochip0`, line: 4 } },
  { id: 'ser', kind: 'serial', options: { path: `${empty}/ttyUSB0` } },
  { id: 'tape', kind: 'tape', options: { path: `${empty}/nst0` } },
];

let agent: Agent;
let client: TestClient;
beforeAll(async () => {
  agent = await startAgent({ config: { node: { id: 'n' }, homeassistant: { enabled: true }, devices } });
  client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
  await client.subscribe(['homeassistant/+/+/config', 'dev2mqtt/n/+/state', 'dev2mqtt/n/+/availability']);
});
afterAll(async () => {
  await client?.end();
  await agent?.stop();
});

describe('discovery over devices that are offline', () => {
  it('every entity takes their state without an error', async () => {
    let checked = 0;
    for (const d of devices) {
      await client.next((m) => m.topic === deviceTopic(T, d.id, 'availability') && m.payload === 'offline', 20_000, `${d.id} offline`);
      const state = await client.next((m) => m.topic === `dev2mqtt/n/${d.id}/state`, 20_000, `${d.id} state`);
      const expected = discoveryMessages(
        { prefix: 'homeassistant', topics: T, version: version(), qos: 1 },
        [{ id: d.id, name: d.id, sim: false, options: agent.config.devices.find((x) => x.id === d.id)!.options, kind: kinds.get(d.kind)! }],
        () => undefined,
      );
      for (const m of expected) await client.next((x) => x.topic === m.topic, 20_000, m.topic);
      const configs = expected.filter((m) => m.device === d.id).map((m) => client.on(m.topic).at(-1)!);
      for (const c of configs) {
        const config = JSON.parse(c.payload) as Record<string, unknown>;
        if (config.state_topic !== state.topic) continue;
        expect(stateProblems(c.topic.split('/')[1]!, config, state.payload).problems, `${c.topic} over ${state.payload}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(devices.length);
  });
});
