/**
 * deploy/mosquitto: a site broker bridged to a central one, both real
 * mosquittos started here from the shipped files (only the values marked EDIT
 * changed: ports, paths, passwords). TLS with a CA made by openssl, password
 * files made by mosquitto_passwd, the central ACL as shipped. An agent on the
 * site broker; an operator on the central one sends commands and gets results,
 * MQTT 5 replies included, and sees the agent's retained state and discovery.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { freePort, Mosquitto, mosquittoItself } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { requireTools } from '../helpers/tools.js';
import { deadline } from '../helpers/deadline.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/mosquitto/', import.meta.url));
const ok = mosquittoItself('the mosquitto bridge suite') && requireTools('the mosquitto bridge suite', 'mosquitto_passwd', 'openssl');
const NODE = 'site-a-pi-1';

/** The shipped file with the EDIT values replaced; every other line as shipped. */
function edited(file: string, replace: Record<string, string>): string[] {
  const lines = readFileSync(path.join(DEPLOY, file), 'utf8').split('\n');
  const used = new Set<string>();
  const out = lines.map((l) => {
    for (const [from, to] of Object.entries(replace)) {
      if (l === from) {
        used.add(from);
        return to;
      }
    }
    return l;
  });
  const missing = Object.keys(replace).filter((k) => !used.has(k));
  if (missing.length) throw new Error(`${file} no longer has the lines ${missing.join(', ')}`);
  return out;
}

function certificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string): string => path.join(dir, n);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=dev2mqtt test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('central.key'), '-out', f('central.csr'));
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    'x509',
    '-req',
    '-in',
    f('central.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('san.ext'),
    '-out',
    f('central.crt'),
  );
  for (const n of ['ca.crt', 'central.crt', 'central.key']) chmodSync(f(n), 0o644);
  return { ca: f('ca.crt'), cert: f('central.crt'), key: f('central.key') };
}

function passwords(file: string, users: Record<string, string>): void {
  writeFileSync(file, '');
  for (const [u, p] of Object.entries(users)) execFileSync('mosquitto_passwd', ['-b', file, u, p], { stdio: 'pipe' });
  chmodSync(file, 0o644);
}

let central: Mosquitto;
let site: Mosquitto;
let agent: Agent;
let operator: TestClient;
let operatorPort = 0;

beforeAll(async () => {
  if (!ok) return;
  const dir = tempDir('dev2mqtt-bridge-');
  chmodSync(dir, 0o755);
  const tls = certificates(dir);
  passwords(path.join(dir, 'central.passwd'), { 'site-a': 'bridge-secret', operator: 'op-secret' });
  passwords(path.join(dir, 'site.passwd'), { [NODE]: 'node-secret' });
  writeFileSync(path.join(dir, 'central.acl'), readFileSync(path.join(DEPLOY, 'central.acl')));
  chmodSync(path.join(dir, 'central.acl'), 0o644);

  const centralPort = await freePort();
  operatorPort = await freePort();
  central = await Mosquitto.start({
    port: centralPort,
    listenerIncluded: true,
    extra: [
      ...edited('central.conf', {
        'listener 8883': `listener ${centralPort} 127.0.0.1`,
        'certfile /etc/mosquitto/certs/central.crt': `certfile ${tls.cert}`,
        'keyfile /etc/mosquitto/certs/central.key': `keyfile ${tls.key}`,
        'password_file /etc/mosquitto/dev2mqtt-central.passwd': `password_file ${path.join(dir, 'central.passwd')}`,
        'acl_file /etc/mosquitto/dev2mqtt-central.acl': `acl_file ${path.join(dir, 'central.acl')}`,
      }),
      // The test's operator connects without TLS, with the same accounts and ACL.
      `listener ${operatorPort} 127.0.0.1`,
    ],
  });
  const sitePort = await freePort();
  site = await Mosquitto.start({
    port: sitePort,
    listenerIncluded: true,
    extra: edited('site.conf', {
      'listener 1883': `listener ${sitePort} 127.0.0.1`,
      'password_file /etc/mosquitto/dev2mqtt-site.passwd': `password_file ${path.join(dir, 'site.passwd')}`,
      'address central.example.net:8883': `address 127.0.0.1:${centralPort}`,
      'bridge_cafile /etc/mosquitto/certs/central-ca.crt': `bridge_cafile ${tls.ca}`,
      'remote_password CHANGE-ME': 'remote_password bridge-secret',
    }),
  });

  operator = await TestClient.connect(`mqtt://127.0.0.1:${operatorPort}`, {
    username: 'operator',
    password: 'op-secret',
    protocolVersion: 5,
  });
  await operator.subscribe(['dev2mqtt/#', 'homeassistant/#', 'replies/#', 'bridges/#']);
  await operator.next((m) => m.topic === 'bridges/site-a/state' && m.payload === '1', 30_000, 'the site bridge connected');

  writeFileSync(path.join(dir, 'node.pw'), 'node-secret\n');
  agent = await startAgent({
    config: {
      node: { id: NODE, groups: ['site-a'] },
      mqtt: { url: site.url, username: NODE, passwordFile: path.join(dir, 'node.pw') },
      homeassistant: { enabled: true },
      devices: [{ id: 'led0', kind: 'led', sim: true }],
    },
  });
}, deadline(120_000));

afterAll(async () => {
  await operator?.end();
  await agent?.stop();
  await site?.stop();
  await central?.stop();
});

describe.skipIf(!ok)('site broker bridged to the central broker', () => {
  it("brings the agent's status, state and discovery to the central side, retained", async () => {
    await operator.next((m) => m.topic === `dev2mqtt/${NODE}/status` && m.payload === 'online', 30_000, 'the agent online at the centre');
    await operator.next((m) => m.topic === `dev2mqtt/${NODE}/led0/state`, 30_000, 'led0 state at the centre');
    await operator.next((m) => m.topic === `homeassistant/light/${NODE}_led0/config`, 30_000, 'the discovery config at the centre');
    // A client arriving later gets them from the central broker's retained store.
    const late = await TestClient.connect(`mqtt://127.0.0.1:${operatorPort}`, { username: 'operator', password: 'op-secret' });
    await late.subscribe([`dev2mqtt/${NODE}/status`, `dev2mqtt/${NODE}/led0/availability`]);
    const status = await late.next((m) => m.topic === `dev2mqtt/${NODE}/status`, 30_000, 'retained status');
    const availability = await late.next((m) => m.topic === `dev2mqtt/${NODE}/led0/availability`, 30_000, 'retained availability');
    await late.end();
    expect([status.retain, status.payload]).toEqual([true, 'online']);
    expect([availability.retain, availability.payload]).toEqual([true, 'online']);
  });

  it('a command published centrally reaches the agent on the site broker, and its result comes back', async () => {
    const r = await operator.command(`dev2mqtt/${NODE}/led0/cmd/set`, { state: 'ON', brightness: 77 }, 'central-1');
    expect(r).toMatchObject({ id: 'central-1', device: 'led0', command: 'set', ok: true });
    await operator.next(
      (m) => m.topic === `dev2mqtt/${NODE}/led0/state` && (JSON.parse(m.payload) as { brightness: number }).brightness === 77,
      30_000,
      'the new state at the centre',
    );
    expect(await operator.command(`dev2mqtt/${NODE}/cmd/ping`, {}, 'central-2')).toMatchObject({
      id: 'central-2',
      command: 'ping',
      ok: true,
    });
    // A group command: every node of the group answers on its own device's result topic.
    await operator.publish('dev2mqtt/group/site-a/led0/cmd/get', JSON.stringify({ id: 'central-3' }));
    expect(await operator.result(`dev2mqtt/${NODE}/led0/result`, 'central-3')).toMatchObject({ id: 'central-3', command: 'get', ok: true });
  });

  it('carries MQTT 5 request/response across: the reply comes to the Response Topic with its Correlation Data', async () => {
    await operator.publish(`dev2mqtt/${NODE}/led0/cmd/get`, JSON.stringify({ id: 'central-4' }), {
      qos: 1,
      properties: { responseTopic: 'replies/operator/4', correlationData: Buffer.from('corr-4') },
    });
    const reply = await operator.next((m) => m.topic === 'replies/operator/4', 30_000, 'the reply on replies/operator/4');
    expect(JSON.parse(reply.payload)).toMatchObject({ id: 'central-4', ok: true });
    expect(reply.packet.properties?.correlationData?.toString()).toBe('corr-4');
  });
});
