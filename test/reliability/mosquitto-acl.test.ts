/**
 * deploy/mosquitto/acl and acl.conf, as shipped, on a real mosquitto 2 with a
 * password file made by mosquitto_passwd: two agents (pi-a, pi-b) each log in
 * as their node id and work as usual under the ACL; an operator account
 * commands them; and pi-b's credentials can neither command pi-a (nor itself,
 * nor a group), nor read pi-a's results, state or replies, nor publish as pi-a.
 * MQTT 5 clients, so every refusal comes back as reason code 0x87.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { freePort, Mosquitto, mosquittoItself } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';
import { requireTools } from '../helpers/tools.js';

const ok = mosquittoItself('the mosquitto ACL suite') && requireTools('the mosquitto ACL suite', 'mosquitto_passwd');
const DEPLOY = fileURLToPath(new URL('../../deploy/mosquitto/', import.meta.url));
const NOT_AUTHORIZED = 0x87;
const PASSWORDS: Record<string, string> = { 'pi-a': 'a-Secret-1', 'pi-b': 'b-Secret-2', operator: 'op-Secret-3' };

describe.skipIf(!ok)('the mosquitto ACL of deploy/', () => {
  let broker: Mosquitto;
  let dir: string;
  const agents: Agent[] = [];
  const clients: TestClient[] = [];

  const client = async (user: string, opts: IClientOptions = {}): Promise<TestClient> => {
    const c = await TestClient.connect(broker.url, {
      protocolVersion: 5,
      username: user,
      password: PASSWORDS[user],
      reconnectPeriod: 0,
      ...opts,
    });
    clients.push(c);
    return c;
  };
  /** The reason code a publish got back (0: accepted). */
  const publishCode = (c: TestClient, topic: string, payload: string, retain = false): Promise<number> =>
    c.client.publishAsync(topic, payload, { qos: 1, retain }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? -1,
    );
  /** The reason code of a subscription (granted QoS, or a failure code). */
  const subscribeCode = async (c: TestClient, topic: string): Promise<number> => {
    const granted = await c.client.subscribeAsync(topic, { qos: 1 });
    return granted[0]?.qos ?? -1;
  };

  beforeAll(async () => {
    dir = tempDir('dev2mqtt-acl-');
    chmodSync(dir, 0o755);
    const acl = path.join(dir, 'dev2mqtt.acl');
    copyFileSync(path.join(DEPLOY, 'acl'), acl);
    const passwd = path.join(dir, 'dev2mqtt.passwd');
    for (const [i, [user, pw]] of Object.entries(PASSWORDS).entries()) {
      const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', passwd, user, pw], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    for (const f of [acl, passwd]) chmodSync(f, 0o644);
    // acl.conf as shipped, with this test's path for the ACL; the accounts as its comment says.
    const snippet = readFileSync(path.join(DEPLOY, 'acl.conf'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.replace('/etc/mosquitto/dev2mqtt.acl', acl));
    expect(snippet).toContain(`acl_file ${acl}`);
    const port = await freePort();
    broker = await Mosquitto.start({
      port,
      listenerIncluded: true,
      extra: [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwd}`, ...snippet],
    });
    for (const node of ['pi-a', 'pi-b']) {
      const pwFile = path.join(dir, `${node}.pw`);
      writeFileSync(pwFile, `${PASSWORDS[node]}\n`, { mode: 0o600 });
      agents.push(
        await startAgent({
          config: {
            node: { id: node, groups: ['hall'] },
            mqtt: { url: broker.url, username: node, passwordFile: pwFile },
            devices: [{ id: node === 'pi-a' ? 'p1' : 'p2', kind: 'probe' }],
          },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    for (const a of agents) await a.stop();
    await broker?.stop();
  });

  it('the agents log in as their node id, subscribe, and answer the operator, also on group topics and MQTT 5 replies', async () => {
    expect(agents.every((a) => a.connected)).toBe(true);
    const op = await client('operator');
    await op.subscribe(['dev2mqtt/+/+/result', 'dev2mqtt/+/status', 'replies/#']);
    expect(await op.command('dev2mqtt/pi-a/p1/cmd/count', {}, 'op-1')).toMatchObject({ ok: true, result: { count: 1 } });
    expect(await op.command('dev2mqtt/pi-b/p2/cmd/count', {}, 'op-2')).toMatchObject({ ok: true, result: { count: 1 } });
    await op.publish('dev2mqtt/group/hall/p1/cmd/echo', '{"id":"grp","value":1}');
    expect(await op.result('dev2mqtt/pi-a/p1/result', 'grp')).toMatchObject({ ok: true });
    await op.client.publishAsync('dev2mqtt/pi-a/p1/cmd/echo', '{"id":"rr","value":2}', {
      qos: 1,
      properties: { responseTopic: 'replies/op', correlationData: Buffer.from('c1') },
    });
    const reply = await op.next((m) => m.topic === 'replies/op', 20_000, 'the MQTT 5 reply');
    expect(JSON.parse(reply.payload)).toMatchObject({ id: 'rr', ok: true });
  });

  it("pi-b's credentials cannot command pi-a, itself, or a group: refused, and nothing runs", async () => {
    const b = await client('pi-b');
    for (const topic of [
      'dev2mqtt/pi-a/p1/cmd/count',
      'dev2mqtt/pi-a/cmd/ping',
      'dev2mqtt/pi-b/p2/cmd/count',
      'dev2mqtt/group/hall/p1/cmd/count',
      'dev2mqtt/group/hall/cmd/ping',
    ]) {
      expect(await publishCode(b, topic, '{"id":"evil"}'), topic).toBe(NOT_AUTHORIZED);
    }
    // Nothing ran: the next count the operator asks for is the second.
    const op = await client('operator');
    await op.subscribe('dev2mqtt/+/+/result');
    expect(await op.command('dev2mqtt/pi-a/p1/cmd/count', {}, 'op-3')).toMatchObject({ ok: true, result: { count: 2 } });
    expect(probes.get('p1')?.count).toBe(2);
    expect(probes.get('p2')?.count).toBe(1);
  });

  it("pi-b's credentials cannot read pi-a's results, state, availability or the replies", async () => {
    const b = await client('pi-b');
    // mosquitto 2.0 may grant such a subscription (it checks reading per message): what counts is that nothing arrives.
    const topics = [
      'dev2mqtt/pi-a/p1/result',
      'dev2mqtt/pi-a/result',
      'dev2mqtt/pi-a/p1/state',
      'dev2mqtt/pi-a/p1/availability',
      'dev2mqtt/pi-a/state',
      'dev2mqtt/pi-a/status',
      'replies/#',
      'dev2mqtt/#',
    ];
    const codes = await Promise.all(topics.map((t) => subscribeCode(b, t)));
    for (const code of codes) expect([0, 1, NOT_AUTHORIZED]).toContain(code);
    // pi-a publishes a result, a state and a reply; retained state and status are there already.
    const op = await client('operator');
    await op.subscribe(['dev2mqtt/+/+/result', 'replies/#']);
    expect(await op.command('dev2mqtt/pi-a/p1/cmd/set', { value: 'private' }, 'op-4')).toMatchObject({ ok: true });
    await op.client.publishAsync('dev2mqtt/pi-a/p1/cmd/echo', '{"id":"rr2"}', {
      qos: 1,
      properties: { responseTopic: 'replies/op', correlationData: Buffer.from('c2') },
    });
    await op.next((m) => m.topic === 'replies/op' && m.payload.includes('rr2'), 20_000, 'the reply');
    // pi-b's own command topic comes through its wide subscription after those: once it is in, pi-a's would have been too.
    await op.publish('dev2mqtt/pi-b/p2/cmd/echo', '{"id":"marker"}');
    await b.next((m) => m.topic === 'dev2mqtt/pi-b/p2/cmd/echo', 20_000, 'its own command topic');
    expect(b.messages.filter((m) => m.topic.startsWith('dev2mqtt/pi-a/') || m.topic.startsWith('replies/')).map((m) => m.topic)).toEqual(
      [],
    );
  });

  it("pi-b's credentials cannot publish as pi-a: its status and results stay pi-a's own", async () => {
    const b = await client('pi-b');
    expect(await publishCode(b, 'dev2mqtt/pi-a/status', 'offline', true)).toBe(NOT_AUTHORIZED);
    expect(await publishCode(b, 'dev2mqtt/pi-a/p1/result', '{"id":"op-9","ok":true}')).toBe(NOT_AUTHORIZED);
    expect(await publishCode(b, 'dev2mqtt/pi-a/p1/state', '{}', true)).toBe(NOT_AUTHORIZED);
    // Its own topics it may write (what its agent does).
    expect(await publishCode(b, 'dev2mqtt/pi-b/p2/event', '{"type":"x"}')).toBe(0);
    const op = await client('operator');
    await op.subscribe('dev2mqtt/pi-a/status');
    const status = await op.next((m) => m.topic === 'dev2mqtt/pi-a/status', 20_000, 'retained status');
    expect(status).toMatchObject({ payload: 'online', retain: true });
  });
});
