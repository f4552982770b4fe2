/**
 * A device removed from the config between two runs: the next start clears
 * its discovery configs, so a broker (mosquitto where it is installed, else
 * aedes) no longer retains them
 * and Home Assistant removes the entities.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { retainedMessages, startBroker, type TestBroker } from '../helpers/broker.js';
import { TestClient } from '../helpers/mqtt-client.js';

const led = { id: 'led0', kind: 'led', sim: true, options: {} };
const relay = { id: 'relay', kind: 'gpio', sim: true, options: { line: 17, direction: 'out' } };
const LED_TOPIC = 'homeassistant/light/n1_led0/config';
const RELAY_TOPIC = 'homeassistant/switch/n1_relay/config';

/** The retained configs under homeassistant/, all of them. */
async function retainedConfigs(b: TestBroker): Promise<Map<string, string>> {
  return new Map([...(await retainedMessages(b, 'homeassistant/#'))].filter(([topic]) => topic.endsWith('/config')));
}

let broker: TestBroker | undefined;
let agent: Agent | undefined;
afterAll(async () => {
  await agent?.stop();
  await broker?.stop();
});

describe('stale discovery configs', () => {
  it('are cleared at the next start once their device is gone', async () => {
    broker = await startBroker();
    const stateDir = tempDir('dev2mqtt-state-');
    const config = (devices: unknown[]) => ({
      node: { id: 'n1', stateDir },
      mqtt: { url: broker!.url, protocolVersion: broker!.protocolVersion },
      homeassistant: { enabled: true },
      devices,
    });

    agent = await startAgent({ config: config([led, relay]) });
    const watcher = await TestClient.connect(broker.url);
    await watcher.subscribe('homeassistant/+/+/config');
    await watcher.next((m) => m.topic === RELAY_TOPIC, 20_000, 'the relay config');
    await watcher.next((m) => m.topic === LED_TOPIC, 20_000, 'the led config');
    await agent.stop();
    const first = await retainedConfigs(broker);
    expect([...first.keys()]).toEqual(expect.arrayContaining([LED_TOPIC, RELAY_TOPIC]));

    agent = await startAgent({ config: config([led]) });
    await watcher.next((m) => m.topic === RELAY_TOPIC && m.payload === '', 20_000, 'the relay config cleared');
    await watcher.end();
    const second = await retainedConfigs(broker);
    expect(second.has(RELAY_TOPIC)).toBe(false);
    expect(second.has(LED_TOPIC)).toBe(true);
    expect(JSON.parse(second.get(LED_TOPIC)!)).toMatchObject({ unique_id: 'dev2mqtt_n1_led0' });
  });
});
