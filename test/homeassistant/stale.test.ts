/**
 * A device removed from the config between two runs: the next start clears
 * its discovery configs, so a real broker (mosquitto) no longer retains them
 * and Home Assistant removes the entities.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { haveMosquitto, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';

const led = { id: 'led0', kind: 'led', sim: true, options: {} };
const relay = { id: 'relay', kind: 'gpio', sim: true, options: { line: 17, direction: 'out' } };
const LED_TOPIC = 'homeassistant/light/n1_led0/config';
const RELAY_TOPIC = 'homeassistant/switch/n1_relay/config';

/** The retained configs under homeassistant/, all of them: a marker published after subscribing comes after every retained one. */
async function retainedConfigs(url: string): Promise<Map<string, string>> {
  const c = await TestClient.connect(url);
  await c.subscribe('homeassistant/#');
  await c.publish('homeassistant/marker', 'end');
  await c.next((m) => m.topic === 'homeassistant/marker', 20_000, 'the marker');
  await c.end();
  return new Map(c.messages.filter((m) => m.retain && m.topic.endsWith('/config')).map((m) => [m.topic, m.payload]));
}

let broker: Mosquitto | undefined;
let agent: Agent | undefined;
afterAll(async () => {
  await agent?.stop();
  await broker?.stop();
});

describe.skipIf(!haveMosquitto())('stale discovery configs', () => {
  it('are cleared at the next start once their device is gone', async () => {
    broker = await Mosquitto.start();
    const stateDir = tempDir('dev2mqtt-state-');
    const config = (devices: unknown[]) => ({
      node: { id: 'n1', stateDir },
      mqtt: { url: broker!.url },
      homeassistant: { enabled: true },
      devices,
    });

    agent = await startAgent({ config: config([led, relay]) });
    const watcher = await TestClient.connect(broker.url);
    await watcher.subscribe('homeassistant/+/+/config');
    await watcher.next((m) => m.topic === RELAY_TOPIC, 20_000, 'the relay config');
    await watcher.next((m) => m.topic === LED_TOPIC, 20_000, 'the led config');
    await agent.stop();
    const first = await retainedConfigs(broker.url);
    expect([...first.keys()]).toEqual(expect.arrayContaining([LED_TOPIC, RELAY_TOPIC]));

    agent = await startAgent({ config: config([led]) });
    await watcher.next((m) => m.topic === RELAY_TOPIC && m.payload === '', 20_000, 'the relay config cleared');
    await watcher.end();
    const second = await retainedConfigs(broker.url);
    expect(second.has(RELAY_TOPIC)).toBe(false);
    expect(second.has(LED_TOPIC)).toBe(true);
    expect(JSON.parse(second.get(LED_TOPIC)!)).toMatchObject({ unique_id: 'dev2mqtt_n1_led0' });
  });
});
