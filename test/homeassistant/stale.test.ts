/**
 * Configs that go stale between two runs, on a real broker (mosquitto): a
 * device removed from the config has its device config cleared (no longer
 * retained, so Home Assistant removes the device), an entity gone from a
 * device (edge detection switched off: no event entity) is removed with
 * HA's platform-only entry, and the first scheme's per-entity configs that
 * an upgraded agent finds are cleared.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { retainedConfigs } from '../helpers/ha-discovered.js';
import { haveMosquittoBroker, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';

const led = { id: 'led0', kind: 'led', sim: true, options: {} };
const button = (edge: string) => ({ id: 'btn', kind: 'gpio', sim: true, options: { line: 17, edge } });
const LED_TOPIC = 'homeassistant/device/n1/led0/config';
const BUTTON_TOPIC = 'homeassistant/device/n1/btn/config';
const OLD_LED_TOPIC = 'homeassistant/light/n1_led0/config';

let broker: Mosquitto | undefined;
let agent: Agent | undefined;
afterAll(async () => {
  await agent?.stop();
  await broker?.stop();
});

describe.skipIf(!haveMosquittoBroker())('stale discovery configs', () => {
  it('are taken back at the next start: old scheme, removed entity, removed device', async () => {
    broker = await Mosquitto.start();
    const stateDir = tempDir('dev2mqtt-state-');
    const config = (devices: unknown[]) => ({
      node: { id: 'n1', stateDir },
      mqtt: { url: broker!.url },
      homeassistant: { enabled: true },
      devices,
    });
    const watcher = await TestClient.connect(broker.url);
    await watcher.subscribe('homeassistant/#');
    // What the first scheme left retained on an agent being upgraded.
    await watcher.publish(OLD_LED_TOPIC, JSON.stringify({ unique_id: 'dev2mqtt_n1_led0' }), { qos: 1, retain: true });

    agent = await startAgent({ config: config([led, button('both')]) });
    await watcher.next((m) => m.topic === OLD_LED_TOPIC && m.payload === '', 20_000, 'the old config cleared');
    await watcher.next((m) => m.topic === BUTTON_TOPIC, 20_000, 'the button config');
    await agent.stop();
    let retained = await retainedConfigs(broker.url);
    expect(retained.has(OLD_LED_TOPIC)).toBe(false);
    expect(Object.keys((JSON.parse(retained.get(BUTTON_TOPIC)!) as { cmps: object }).cmps).sort()).toEqual([
      'binary_sensor',
      'event_event',
    ]);

    agent = await startAgent({ config: config([led, button('none')]) });
    await watcher.next((m) => m.topic === BUTTON_TOPIC && m.payload.includes('"event_event":{"p":"event"}'), 20_000, 'the event removed');
    await agent.stop();
    expect(await retainedConfigs(broker.url)).toSatisfy((r: Map<string, string>) =>
      r.get(BUTTON_TOPIC)!.includes('"event_event":{"p":"event"}'),
    );
    // The next start publishes the device without the removed entity at all.
    const seen = watcher.messages.length;
    agent = await startAgent({ config: config([led, button('none')]) });
    await watcher.next(
      (m) => watcher.messages.indexOf(m) >= seen && m.topic === BUTTON_TOPIC && !m.payload.includes('event_event'),
      20_000,
      'the button config without its event entity',
    );
    await agent.stop();
    retained = await retainedConfigs(broker.url);
    expect(Object.keys((JSON.parse(retained.get(BUTTON_TOPIC)!) as { cmps: object }).cmps)).toEqual(['binary_sensor']);

    agent = await startAgent({ config: config([led]) });
    await watcher.next((m) => m.topic === BUTTON_TOPIC && m.payload === '', 20_000, 'the button config cleared');
    await watcher.end();
    retained = await retainedConfigs(broker.url);
    expect(retained.has(BUTTON_TOPIC)).toBe(false);
    expect(JSON.parse(retained.get(LED_TOPIC)!)).toMatchObject({ cmps: { light: { unique_id: 'dev2mqtt:n1:led0' } } });
    // Nothing of the first scheme came back.
    expect([...retained.keys()].filter((t) => !t.startsWith('homeassistant/device/'))).toEqual([]);
  });
});
