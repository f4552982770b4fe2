import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerUrls, ConfigError, loadConfig } from '../../src/config/load.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { tempDir } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { probeKind } from '../helpers/test-kinds.js';

const registry = (): KindRegistry => new KindRegistry([probeKind]);

async function issuesOf(object: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfig({ object, registry: registry(), env });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
}

describe('configuration', () => {
  it('fills every default of the contract', async () => {
    const c = await loadConfig({ object: {}, registry: registry(), env: { HOME: '/home/pi' } });
    expect(c.mqtt).toMatchObject({ url: 'embedded', baseTopic: 'dev2mqtt', protocolVersion: 5, qos: 1 });
    expect(c.mqtt.clientId).toBe(`dev2mqtt_${c.node.id}`);
    expect(c.broker).toMatchObject({ enabled: false, host: '127.0.0.1', port: 1883 });
    expect(c.homeassistant).toMatchObject({ enabled: false, discoveryPrefix: 'homeassistant' });
    expect(c.node.stateDir).toBe('/home/pi/.local/state/dev2mqtt');
    expect(c.devices).toEqual([]);
  });

  it('takes every limit at its edge and refuses one past it', async () => {
    const id64 = 'n'.repeat(64);
    expect(await issuesOf({ node: { id: id64 }, devices: [{ id: id64, kind: 'probe' }] })).toEqual([]);
    const too = await issuesOf({ node: { id: `${id64}n` }, devices: [{ id: `${id64}n`, kind: 'probe' }] });
    expect(too.map((i) => i.split(':')[0])).toEqual(['node.id', 'devices[0].id']);
    const security = (s: Record<string, number>): Promise<string[]> => issuesOf({ security: s });
    expect(await security({ maxPayloadBytes: 64, rateLimitPerS: 0, rateLimitBurst: 1, dedupeWindow: 0 })).toEqual([]);
    expect(
      await security({ maxPayloadBytes: 256 * 1024 * 1024, rateLimitPerS: 1_000_000, rateLimitBurst: 1_000_000, dedupeWindow: 1_000_000 }),
    ).toEqual([]);
    for (const [key, value] of [
      ['maxPayloadBytes', 63],
      ['maxPayloadBytes', 256 * 1024 * 1024 + 1],
      ['rateLimitPerS', -1],
      ['rateLimitPerS', 1_000_001],
      ['rateLimitBurst', 0],
      ['rateLimitBurst', 1_000_001],
      ['dedupeWindow', -1],
      ['dedupeWindow', 1_000_001],
    ] as const) {
      expect(await security({ [key]: value }), `${key} ${value}`).toEqual([expect.stringMatching(new RegExp(`^security\\.${key}: `))]);
    }
  });

  it('names every problem with its key path, device options included', async () => {
    const issues = await issuesOf({
      node: { id: 'bad id!' },
      mqtt: { url: 'http://example', qos: 3, bogus: 1 },
      telemetry: { intervalMs: 5 },
      devices: [
        { id: 'p1', kind: 'probe', options: { label: 7 } },
        { id: 'p1', kind: 'probe' },
        { id: 'x', kind: 'laser' },
        { kind: 'probe', colour: 'red' },
      ],
    });
    const text = issues.join('\n');
    for (const path of [
      'node.id',
      'mqtt.url',
      'mqtt.qos',
      'mqtt.bogus',
      'telemetry.intervalMs',
      'devices[0].options.label',
      'devices[1].id',
      'devices[2].kind',
      'devices[3].id',
      'devices[3].colour',
    ]) {
      expect(text).toContain(`${path}:`);
    }
    expect(text).toContain('unknown kind "laser" (known: probe)');
  });

  it('takes DEV2MQTT_<PATH> overrides from the environment, over the file', async () => {
    const c = await loadConfig({
      object: { mqtt: { url: 'mqtt://file:1883' } },
      registry: registry(),
      env: {
        DEV2MQTT_MQTT_URL: 'mqtt://env:1884',
        DEV2MQTT_NODE_ID: 'pi-17',
        DEV2MQTT_TELEMETRY_INTERVALMS: '5000',
        DEV2MQTT_NODE_GROUPS: 'kitchen,hall',
        DEV2MQTT_MQTT_PASSWORD: 's3cret',
      },
    });
    expect(c.mqtt.url).toBe('mqtt://env:1884');
    expect(c.node.id).toBe('pi-17');
    expect(c.telemetry.intervalMs).toBe(5000);
    expect(c.node.groups).toEqual(['kitchen', 'hall']);
    expect(c.mqtt.password).toBe('s3cret');
    expect(await issuesOf({}, { DEV2MQTT_MQTT_QOS: '7' })).toEqual([expect.stringContaining('mqtt.qos')]);
  });

  it('mqtt.servers: a cluster instead of one url, from the file or DEV2MQTT_MQTT_SERVERS; checked like url', async () => {
    const servers = ['mqtt://n1:1883', 'mqtt://n2:1883', 'mqtts://n3:8883'];
    const c = await loadConfig({ object: { mqtt: { servers } }, registry: registry(), env: {} });
    expect(c.mqtt.servers).toEqual(servers);
    expect(brokerUrls(c.mqtt)).toEqual(servers);
    const fromEnv = await loadConfig({ object: {}, registry: registry(), env: { DEV2MQTT_MQTT_SERVERS: 'mqtt://a:1, mqtt://b:2' } });
    expect(brokerUrls(fromEnv.mqtt)).toEqual(['mqtt://a:1', 'mqtt://b:2']);
    // One url alone keeps working; a url that is one of the servers is fine, another one is a contradiction.
    expect(brokerUrls((await loadConfig({ object: { mqtt: { url: 'mqtt://one:1883' } }, registry: registry(), env: {} })).mqtt)).toEqual([
      'mqtt://one:1883',
    ]);
    expect(await issuesOf({ mqtt: { url: 'mqtt://n1:1883', servers } })).toEqual([]);
    expect(await issuesOf({ mqtt: { url: 'mqtt://elsewhere:1883', servers } })).toEqual([
      expect.stringMatching(/^mqtt\.url: .*not in mqtt\.servers/),
    ]);
    expect(await issuesOf({ mqtt: { servers: ['mqtt://n1:1883', 'http://n2'] } })).toEqual([
      expect.stringMatching(/^mqtt\.servers: .*http:\/\/n2/),
    ]);
    expect(await issuesOf({ mqtt: { servers: ['mqtt://n1:1883', 'mqtt://n1:1883'] } })).toEqual([
      expect.stringMatching(/^mqtt\.servers: lists a broker twice/),
    ]);
    // Servers listed: no embedded broker is implied, so its checks do not apply.
    expect(await issuesOf({ mqtt: { servers }, broker: { host: '0.0.0.0' } })).toEqual([]);
  });

  it('telemetry.offlineBuffer: bounds by default, no writes to the card unless spill is on', async () => {
    const c = await loadConfig({ object: {}, registry: registry(), env: {} });
    expect(c.telemetry.offlineBuffer).toEqual({
      maxMessages: 10000,
      maxBytes: 4 * 1024 * 1024,
      spill: false,
      spillMaxBytes: 64 * 1024 * 1024,
    });
    expect(c.mqtt.ackTimeoutMs).toBe(20000);
    expect(await issuesOf({ telemetry: { offlineBuffer: { maxMessages: -1, spill: 7 } } })).toEqual([
      expect.stringContaining('telemetry.offlineBuffer.maxMessages'),
      expect.stringContaining('telemetry.offlineBuffer.spill'),
    ]);
  });

  it('mqtt.ackTimeoutMs: 0 (never) or at least a second; a shorter wait would drop working connections', async () => {
    for (const ok of [0, 1000, 3_600_000]) expect(await issuesOf({ mqtt: { ackTimeoutMs: ok } }), String(ok)).toEqual([]);
    for (const bad of [1, 500, 999, -1, 1000.5, 3_600_001]) {
      expect(await issuesOf({ mqtt: { ackTimeoutMs: bad } }), String(bad)).toEqual([
        `mqtt.ackTimeoutMs: must be 0 (never) or an integer from 1000 to 3600000, got ${JSON.stringify(bad)}`,
      ]);
    }
    expect(await issuesOf({}, { DEV2MQTT_MQTT_ACKTIMEOUTMS: '250' })).toEqual([expect.stringMatching(/^mqtt\.ackTimeoutMs: .*got 250$/)]);
  });

  it('refuses an embedded broker on a non-loopback address without broker.auth', async () => {
    expect(await issuesOf({ broker: { host: '0.0.0.0' } })).toEqual([expect.stringContaining('broker.host')]);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pw'), 'x\n');
    expect(await issuesOf({ broker: { host: '0.0.0.0', auth: { username: 'u', passwordFile: path.join(dir, 'pw') } } })).toEqual([]);
  });

  it('checks that credential and certificate files can be read', async () => {
    const issues = await issuesOf({ mqtt: { url: 'mqtts://b:8883', ca: '/nonexistent/ca.pem', cert: '/nonexistent/c.pem' } });
    expect(issues.join('\n')).toMatch(/mqtt\.ca: cannot read/);
    expect(issues.join('\n')).toMatch(/mqtt\.key: mTLS needs both cert and key/);
  });
});

describe('dev2mqtt check-config and run refuse a bad file', () => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ mqtt: { qos: 9 }, devices: [{ id: 'a', kind: 'nope' }] }));
  const good = path.join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ node: { id: 'n1', stateDir: path.join(dir, 'state') }, mqtt: { url: 'mqtt://127.0.0.1:1' } }));

  it('check-config prints each problem with its key path and exits 1', () => {
    const r = runCli(['check-config', '-c', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('mqtt.qos:');
    expect(r.stderr).toContain('devices[0].kind: unknown kind "nope"');
  });

  it('check-config exits 0 on a good file', () => {
    const r = runCli(['check-config', '--config', good]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('valid');
  });

  it('run refuses the bad file before connecting: exit 1, nothing started', () => {
    const r = runCli(['run', '-c', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('mqtt.qos:');
    expect(r.stdout).not.toContain('connected');
  });

  it('a file that is not JSON is named as such', () => {
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ "mqtt": ');
    const r = runCli(['check-config', '-c', broken]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not valid JSON');
  });
});

describe('the shipped configs', () => {
  it('config/default.json is valid as shipped', async () => {
    const { builtinKinds } = await import('../../src/devices/builtin.js');
    const { DEFAULT_CONFIG_FILE } = await import('../../src/config/load.js');
    const c = await loadConfig({ file: DEFAULT_CONFIG_FILE, registry: new KindRegistry(builtinKinds()), env: {} });
    expect(c.devices.map((d) => `${d.id}:${d.kind}:${d.sim}`)).toEqual([
      'led0:led:true',
      'relay:gpio:true',
      'button:gpio:true',
      'modem0:serial:true',
      'tape0:tape:true',
    ]);
    expect(c.mqtt.url).toBe('embedded');
  });

  it('config/example.json is valid once its credential files exist', async () => {
    const { builtinKinds } = await import('../../src/devices/builtin.js');
    const { readFileSync } = await import('node:fs');
    const dir = tempDir();
    const example = JSON.parse(readFileSync(new URL('../../config/example.json', import.meta.url), 'utf8')) as {
      mqtt: Record<string, string>;
    };
    for (const key of ['passwordFile', 'ca']) {
      const file = path.join(dir, key);
      writeFileSync(file, 'x\n');
      example.mqtt[key] = file;
    }
    const c = await loadConfig({ object: example, registry: new KindRegistry(builtinKinds()), env: {} });
    expect(c.devices.map((d) => d.kind)).toEqual(['led', 'led', 'gpio', 'gpio', 'serial', 'pwm', 'pwm', 'sensor', 'host', 'tape']);
    expect(c.devices.every((d) => !d.sim)).toBe(true);
    expect(c.mqtt.url).toMatch(/^mqtts:/);
  });
});
