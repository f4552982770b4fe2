/**
 * The README's "Try it" walkthrough, run verbatim: every mosquitto_pub line of
 * that section against the agent on config/default.json (moved to a free
 * port), each answered on its result topic as the README says.
 */
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../src/config/load.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { tempDir } from '../helpers/agent.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { demoDeviceOf, tryItPubLines } from '../helpers/readme.js';

const pubLines = tryItPubLines;

function sh(line: string): Promise<number | null> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', line], { stdio: 'ignore' });
    p.on('close', (code) => resolve(code));
  });
}

describe.skipIf(!haveMosquitto())('README walkthrough, verbatim', () => {
  let agent: Agent;
  let client: TestClient;
  beforeAll(async () => {
    const registry = new KindRegistry(builtinKinds());
    const config = await loadConfig({
      file: DEFAULT_CONFIG_FILE,
      registry,
      env: { DEV2MQTT_BROKER_PORT: '0', DEV2MQTT_NODE_STATEDIR: tempDir() },
    });
    agent = new Agent({ config, registry, log: pino({ level: 'silent' }) });
    await agent.start();
    await agent.whenOnline();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['dev2mqtt/demo/+/result', 'dev2mqtt/demo/result', 'dev2mqtt/demo/button/event', 'dev2mqtt/demo/status']);
  });
  afterAll(async () => {
    await client.end();
    await agent.stop();
  });

  it('has the commands the README promises', () => {
    expect(pubLines.length).toBeGreaterThanOrEqual(6);
  });

  it('status is online and the button presses itself', async () => {
    await client.next((m) => m.topic === 'dev2mqtt/demo/status' && m.payload === 'online');
    const e = await client.next((m) => m.topic === 'dev2mqtt/demo/button/event', 20_000, 'a button edge');
    expect(JSON.parse(e.payload)).toMatchObject({ type: 'edge' });
  });

  for (const line of pubLines) {
    it(line, async () => {
      const device = demoDeviceOf(line);
      const resultTopic = device ? `dev2mqtt/demo/${device}/result` : 'dev2mqtt/demo/result';
      const before = client.on(resultTopic).length;
      expect(await sh(`${line} -p ${agent.brokerPort}`)).toBe(0);
      const m = await client.next(
        (x) => x.topic === resultTopic && client.on(resultTopic).indexOf(x) >= before,
        20_000,
        `result on ${resultTopic}`,
      );
      const r = JSON.parse(m.payload) as { ok: boolean; error?: { code: string } };
      if (device === 'nosuch') expect(r.error?.code).toBe('unknown_device');
      else expect(r).toMatchObject({ ok: true });
    });
  }
});
