/**
 * Transport security against a real mosquitto with a PKI made by openssl in
 * this test: TLS verification is on by default, a wrong CA is refused with a
 * message that names mqtt.ca, mTLS works with a client certificate (and a
 * missing one is explained), username/password come from mqtt.passwordFile,
 * and no credential ever reaches the log or the broker's other clients.
 * The embedded broker binds loopback unless told otherwise and refuses a
 * non-loopback address without broker.auth.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { freePort, Mosquitto, mosquittoItself } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { requireTools } from '../helpers/tools.js';
import { spawnAgent, writeConfig } from './helpers/child-agent.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { LogCapture } from './helpers/log-capture.js';

const ok =
  mosquittoItself('the TLS, mTLS and password suite on mosquitto') &&
  requireTools('the TLS, mTLS and password suite on mosquitto', 'openssl', 'mosquitto_passwd');

const PASSWORD = 'pw-Zq7!secret-4d1c';
const USER = 'node-t1';

/** Lines of /proc/net/tcp{,6} in LISTEN state on `port`: the addresses bound there. */
function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [addr, p] = (f[1] ?? '').split(':');
      if (f[3] === '0A' && p && Number.parseInt(p, 16) === port) out.push(addr ?? '');
    }
  }
  return out;
}

describe.skipIf(!ok)('transport security', () => {
  let pki: TestPki;
  let tlsBroker: Mosquitto;
  let wrongNamePort: number;
  let mtlsBroker: Mosquitto;
  let authBroker: Mosquitto;
  let passwordFile: string;
  const agents: Agent[] = [];

  beforeAll(async () => {
    pki = makePki();
    const tlsPort = await freePort();
    wrongNamePort = await freePort();
    tlsBroker = await Mosquitto.start({
      port: tlsPort,
      listenerIncluded: true,
      extra: [
        'allow_anonymous true',
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${pki.caCert}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        `listener ${wrongNamePort} 127.0.0.1`,
        `cafile ${pki.caCert}`,
        `certfile ${pki.wrongNameCert}`,
        `keyfile ${pki.wrongNameKey}`,
      ],
    });
    const mtlsPort = await freePort();
    mtlsBroker = await Mosquitto.start({
      port: mtlsPort,
      listenerIncluded: true,
      extra: [
        `listener ${mtlsPort} 127.0.0.1`,
        'allow_anonymous true',
        `cafile ${pki.caCert}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        'require_certificate true',
      ],
    });
    const dir = tempDir('dev2mqtt-auth-');
    chmodSync(dir, 0o755);
    const brokerPasswords = path.join(dir, 'mosquitto.passwd');
    const r = spawnSync('mosquitto_passwd', ['-b', '-c', brokerPasswords, USER, PASSWORD], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    chmodSync(brokerPasswords, 0o644);
    const authPort = await freePort();
    authBroker = await Mosquitto.start({
      port: authPort,
      listenerIncluded: true,
      extra: [`listener ${authPort} 127.0.0.1`, 'allow_anonymous false', `password_file ${brokerPasswords}`],
    });
    passwordFile = path.join(dir, 'mqtt-password');
    // A trailing newline, as `echo secret > file` leaves it: it is not part of the password.
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });
  afterAll(async () => {
    await tlsBroker?.stop();
    await mtlsBroker?.stop();
    await authBroker?.stop();
  });

  async function agentWith(mqtt: Record<string, unknown>, log: LogCapture, waitOnline: boolean): Promise<Agent> {
    const agent = await startAgent({
      config: { mqtt: { reconnectMinMs: 100, reconnectMaxMs: 200, ...mqtt } },
      logStream: log,
      logLevel: 'trace',
      start: false,
    });
    agents.push(agent);
    await agent.start();
    if (waitOnline) await agent.whenOnline();
    return agent;
  }

  it('verifies the broker certificate by default: without mqtt.ca the test CA is not trusted, and the log says what to set', async () => {
    const log = new LogCapture();
    const agent = await agentWith({ url: `mqtts://127.0.0.1:${tlsBroker.port}` }, log, false);
    const line = await log.waitFor(/not signed by a trusted CA/);
    expect(line).toContain('set mqtt.ca');
    expect(agent.connected).toBe(false);
  });

  it('refuses a broker whose certificate another CA signed', async () => {
    const log = new LogCapture();
    const agent = await agentWith({ url: `mqtts://127.0.0.1:${tlsBroker.port}`, ca: pki.otherCaCert }, log, false);
    const line = await log.waitFor(/TLS: /);
    expect(line).toMatch(/not signed by a trusted CA \([A-Z_]+\); set mqtt\.ca/);
    // Several attempts, each refused the same way; never connected.
    await log.waitFor(/"attempt":3/);
    expect(agent.connected).toBe(false);
    expect(log.messages().filter((m) => m.startsWith('connected to broker'))).toEqual([]);
    // One line for the failure, however many attempts fail the same way; no "disconnected" for a connection never made.
    expect(log.messages().filter((m) => m.startsWith('TLS: '))).toHaveLength(1);
    expect(log.messages().filter((m) => m.startsWith('disconnected'))).toEqual([]);
  });

  it('refuses a broker whose certificate does not name the host it was reached by', async () => {
    const log = new LogCapture();
    const agent = await agentWith({ url: `mqtts://127.0.0.1:${wrongNamePort}`, ca: pki.caCert }, log, false);
    const line = await log.waitFor(/TLS: /);
    expect(line).toMatch(/does not name this host/);
    expect(agent.connected).toBe(false);
  });

  it('connects over TLS with the right CA, and commands work', async () => {
    const log = new LogCapture();
    const agent = await agentWith({ url: `mqtts://127.0.0.1:${tlsBroker.port}`, ca: pki.caCert }, log, true);
    expect(agent.connected).toBe(true);
    const c = await TestClient.connect(`mqtts://127.0.0.1:${tlsBroker.port}`, { ca: readFileSync(pki.caCert) });
    try {
      await c.subscribe('dev2mqtt/t1/p1/result');
      expect(await c.command('dev2mqtt/t1/p1/cmd/echo', { value: 'over tls' }, 'tls1')).toMatchObject({
        ok: true,
        result: { value: 'over tls' },
      });
    } finally {
      await c.end();
    }
  });

  it('mTLS: without a client certificate the broker refuses and the log says to set mqtt.cert and mqtt.key; with one it works', async () => {
    const without = new LogCapture();
    const refused = await agentWith({ url: `mqtts://127.0.0.1:${mtlsBroker.port}`, ca: pki.caCert }, without, false);
    const line = await without.waitFor(/TLS: /);
    expect(line).toMatch(/client certificate.*mqtt\.cert and mqtt\.key/);
    expect(refused.connected).toBe(false);

    const withCert = new LogCapture();
    const agent = await agentWith(
      { url: `mqtts://127.0.0.1:${mtlsBroker.port}`, ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
      withCert,
      true,
    );
    expect(agent.connected).toBe(true);
    const c = await TestClient.connect(`mqtts://127.0.0.1:${mtlsBroker.port}`, {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    try {
      await c.subscribe('dev2mqtt/t1/p1/result');
      expect(await c.command('dev2mqtt/t1/p1/cmd/echo', { value: 'mtls' }, 'mtls1')).toMatchObject({ ok: true });
    } finally {
      await c.end();
    }
    // The key's bytes never reach the log.
    const keyBody = readFileSync(pki.clientKey, 'utf8').split('\n')[1] ?? 'unreachable';
    expect(withCert.text).not.toContain(keyBody);
  });

  it('logs in with the password from mqtt.passwordFile; the password is in no log line and no published message', async () => {
    const spy = await TestClient.connect(authBroker.url, { username: USER, password: PASSWORD });
    await spy.subscribe('#');
    try {
      const log = new LogCapture();
      const agent = await agentWith({ url: authBroker.url, username: USER, passwordFile }, log, true);
      expect(agent.connected).toBe(true);
      expect(await spy.command('dev2mqtt/t1/cmd/describe', {}, 'd1')).toMatchObject({ ok: true });
      await spy.command('dev2mqtt/t1/p1/cmd/echo', { value: 1 }, 'e1');
      // The log is not empty (so the check below reads something): it tells of the login.
      expect(log.messages()).toContain('connected to broker');
      expect(log.text).not.toContain(PASSWORD);
      for (const m of spy.messages) expect(m.payload, m.topic).not.toContain(PASSWORD);
    } finally {
      await spy.end();
    }
  });

  it('a wrong password is refused with a message naming the keys to check, and it is not logged either', async () => {
    const dir = tempDir('dev2mqtt-pw-');
    const wrong = path.join(dir, 'pw');
    const wrongPassword = 'not-the-Password-9f3';
    writeFileSync(wrong, wrongPassword);
    const log = new LogCapture();
    const agent = await agentWith({ url: authBroker.url, username: USER, passwordFile: wrong }, log, false);
    const line = await log.waitFor(/not authorized|bad user name or password/i);
    expect(line).toMatch(/mqtt\.username.*mqtt\.passwordFile/);
    expect(agent.connected).toBe(false);
    expect(log.text).not.toContain(wrongPassword);
  });

  it("the dev2mqtt binary at trace level logs neither the password file's content nor DEV2MQTT_MQTT_PASSWORD", async () => {
    const dir = tempDir('dev2mqtt-cli-');
    const envPassword = 'env-Pass-77a1b';
    const config = writeConfig(
      {
        node: { id: 'cli1', stateDir: path.join(dir, 'state') },
        mqtt: { url: authBroker.url, username: USER, passwordFile },
        devices: [{ id: 'led0', kind: 'led', sim: true }],
      },
      dir,
    );
    // The variable wins over nothing here (mqtt.password is empty) but must not be logged either:
    // check-config with it set, then the agent itself (file password) until it is online and stopped.
    const check = runCli(['check-config', '-c', config], { env: { DEV2MQTT_MQTT_PASSWORD: envPassword } });
    expect(check.status, check.stderr).toBe(0);
    const spy = await TestClient.connect(authBroker.url, { username: USER, password: PASSWORD });
    await spy.subscribe('dev2mqtt/cli1/status');
    const child = spawnAgent(config, ['--log-level', 'trace']);
    try {
      await spy.next((m) => m.topic === 'dev2mqtt/cli1/status' && m.payload === 'online', 30_000, 'cli1 online');
      await spy.subscribe('dev2mqtt/cli1/led0/result');
      expect(await spy.command('dev2mqtt/cli1/led0/cmd/get', {}, 'g1')).toMatchObject({ ok: true });
    } finally {
      expect(await child.kill('SIGTERM')).toBe(0);
      await spy.end();
    }
    expect(child.output()).toContain('connected to broker');
    for (const out of [check.stdout, check.stderr, child.output()]) {
      expect(out).not.toContain(PASSWORD);
      expect(out).not.toContain(envPassword);
    }
  });
});

// The embedded broker is the product's own (aedes): these need no mosquitto.
describe('the embedded broker', () => {
  let passwordFile: string;
  const agents: Agent[] = [];
  beforeAll(() => {
    passwordFile = path.join(tempDir('dev2mqtt-auth-'), 'mqtt-password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });

  it('listens on loopback by default', async () => {
    const log = new LogCapture();
    const agent = await startAgent({ logStream: log, logLevel: 'info' });
    agents.push(agent);
    const port = agent.brokerPort as number;
    // 0100007F is 127.0.0.1 as /proc/net/tcp writes it.
    expect(listeningAddresses(port)).toEqual(['0100007F']);
  });

  it('refuses a non-loopback address without broker.auth, and takes it with auth', async () => {
    const registry = new KindRegistry(builtinKinds());
    const base = { node: { id: 'b1', stateDir: tempDir() }, mqtt: { url: 'embedded' } };
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      const e = await loadConfig({ object: { ...base, broker: { host } }, registry: new KindRegistry(builtinKinds()), env: {} }).catch(
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => i.path)).toContain('broker.host');
    }
    // broker.enabled with another mqtt.url starts it too: the same rule.
    const enabled = await loadConfig({
      object: { ...base, mqtt: { url: 'mqtt://127.0.0.1:1' }, broker: { enabled: true, host: '0.0.0.0' } },
      registry,
      env: {},
    }).catch((x: unknown) => x);
    expect(enabled).toBeInstanceOf(ConfigError);
    const ok2 = await loadConfig({
      object: { ...base, broker: { host: '0.0.0.0', auth: { username: 'u', passwordFile } } },
      registry: new KindRegistry(builtinKinds()),
      env: {},
    });
    expect(ok2.broker.host).toBe('0.0.0.0');
  });

  it('with broker.auth refuses anonymous clients and a wrong password, and the agent itself still gets in', async () => {
    const log = new LogCapture();
    const agent = await startAgent({ config: { broker: { auth: { username: USER, passwordFile } } }, logStream: log, logLevel: 'trace' });
    agents.push(agent);
    expect(agent.connected).toBe(true);
    const url = `mqtt://127.0.0.1:${agent.brokerPort}`;
    for (const opts of [{}, { username: USER, password: 'wrong' }, { username: 'someone', password: PASSWORD }]) {
      const e = await TestClient.connect(url, { ...opts, reconnectPeriod: 0 }).then(
        async (c) => {
          await c.end();
          return undefined;
        },
        (x: unknown) => x,
      );
      expect(e, JSON.stringify(opts)).toBeInstanceOf(Error);
    }
    const c = await TestClient.connect(url, { username: USER, password: PASSWORD });
    await c.subscribe('dev2mqtt/t1/p1/result');
    expect(await c.command('dev2mqtt/t1/p1/cmd/echo', { value: 2 }, 'auth1')).toMatchObject({ ok: true });
    await c.end();
    expect(log.text).not.toContain(PASSWORD);
  });
});
