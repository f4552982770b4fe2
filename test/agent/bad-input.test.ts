/**
 * Malformed input of every kind gets its error result and never crashes or
 * stalls the agent: each case is published by mosquitto_pub (or, where it is
 * not installed, by MQTT.js running the same command line) and its
 * result read back with the error code the contract names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { mosquittoPub } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';

interface Case {
  readonly name: string;
  readonly topic: string;
  /** A string, or raw bytes (sent from a file). */
  readonly payload: string | Buffer;
  readonly code: string;
  readonly resultTopic?: string;
  readonly errno?: string;
  /** A `stuck` command holds the device from before the case is sent until its result has come. */
  readonly heldDevice?: true;
}

const D = 'dev2mqtt/t1/p1';
const cases: Case[] = [
  { name: 'broken JSON object', topic: `${D}/cmd/echo`, payload: '{"id":"b1", "value":', code: 'bad_payload' },
  { name: 'a JSON array', topic: `${D}/cmd/echo`, payload: '[1,2,3]', code: 'bad_payload' },
  { name: 'JSON null', topic: `${D}/cmd/echo`, payload: 'null', code: 'bad_payload' },
  { name: 'bytes that are not UTF-8', topic: `${D}/cmd/echo`, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'bad_payload' },
  { name: 'an id of 129 characters', topic: `${D}/cmd/echo`, payload: JSON.stringify({ id: 'x'.repeat(129) }), code: 'bad_payload' },
  { name: 'an id that is an object', topic: `${D}/cmd/echo`, payload: '{"id":{"a":1}}', code: 'bad_payload' },
  {
    name: 'a payload over security.maxPayloadBytes',
    topic: `${D}/cmd/echo`,
    payload: JSON.stringify({ value: 'y'.repeat(5000) }),
    code: 'too_large',
  },
  {
    name: 'an unknown device',
    topic: 'dev2mqtt/t1/nosuch/cmd/echo',
    payload: '{}',
    code: 'unknown_device',
    resultTopic: 'dev2mqtt/t1/nosuch/result',
  },
  {
    name: 'a device id with characters ids cannot have',
    topic: 'dev2mqtt/t1/bad id!/cmd/echo',
    payload: '{}',
    code: 'unknown_device',
    resultTopic: 'dev2mqtt/t1/result',
  },
  { name: 'an unknown command', topic: `${D}/cmd/explode`, payload: '{}', code: 'unknown_command' },
  { name: 'an inherited property name as command', topic: `${D}/cmd/constructor`, payload: '{}', code: 'unknown_command' },
  {
    name: 'an unknown node command',
    topic: 'dev2mqtt/t1/cmd/reboot',
    payload: '{}',
    code: 'unknown_command',
    resultTopic: 'dev2mqtt/t1/result',
  },
  { name: 'an argument of the wrong type', topic: `${D}/cmd/sleep`, payload: '{"ms":"ten"}', code: 'bad_args' },
  { name: 'a missing required argument', topic: `${D}/cmd/sleep`, payload: '{}', code: 'bad_args' },
  { name: 'an argument out of range', topic: `${D}/cmd/sleep`, payload: '{"ms":-5}', code: 'bad_args' },
  { name: 'an unknown argument', topic: `${D}/cmd/count`, payload: '{"turbo":true}', code: 'bad_args' },
  { name: 'a __proto__ key', topic: `${D}/cmd/count`, payload: '{"__proto__":{"polluted":true}}', code: 'bad_args' },
  { name: 'a plain value to a command without arguments', topic: `${D}/cmd/count`, payload: 'ON', code: 'bad_args' },
  { name: 'expiresAt in the past', topic: `${D}/cmd/count`, payload: '{"expiresAt":1000}', code: 'expired' },
  { name: 'expiresAt that is not a time', topic: `${D}/cmd/count`, payload: '{"expiresAt":"tomorrow"}', code: 'bad_args' },
  { name: 'a negative timeoutMs', topic: `${D}/cmd/count`, payload: '{"timeoutMs":-1}', code: 'bad_args' },
  { name: 'a handler that does not return in time', topic: `${D}/cmd/hang`, payload: '{}', code: 'timeout' },
  { name: 'a kernel error', topic: `${D}/cmd/fail`, payload: '{"errno":"EIO"}', code: 'device_error', errno: 'EIO' },
  {
    name: 'a command behind one that holds the device past its timeout',
    topic: `${D}/cmd/count`,
    payload: '{"timeoutMs":50}',
    code: 'busy',
    heldDevice: true,
  },
  {
    name: 'batch with a bad step',
    topic: 'dev2mqtt/t1/cmd/batch',
    payload: '{"device":"p1","steps":[{"command":"sleep","args":{"ms":"x"}}]}',
    code: 'bad_args',
    resultTopic: 'dev2mqtt/t1/result',
  },
  {
    name: 'batch step named after an Object.prototype member',
    topic: 'dev2mqtt/t1/cmd/batch',
    payload: '{"device":"p1","steps":[{"command":"constructor"}]}',
    code: 'bad_args',
    resultTopic: 'dev2mqtt/t1/result',
  },
  {
    name: 'cancel of nothing',
    topic: 'dev2mqtt/t1/cmd/cancel',
    payload: '{"device":"p1","id":"nope"}',
    code: 'bad_args',
    resultTopic: 'dev2mqtt/t1/result',
  },
];

describe('bad input through mosquitto_pub (embedded broker)', () => {
  let agent: Agent;
  let client: TestClient;
  beforeAll(async () => {
    agent = await startAgent({ config: { security: { maxPayloadBytes: 4096 }, devices: [{ id: 'p1', kind: 'probe' }] } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['dev2mqtt/t1/+/result', 'dev2mqtt/t1/result']);
  });
  afterAll(async () => {
    await client.end();
    await agent.stop();
  });

  it(`has at least 15 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const c of cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const resultTopic = c.resultTopic ?? `${D}/result`;
      const before = client.on(resultTopic).length;
      const p1 = probes.get('p1');
      if (c.heldDevice) {
        // Held until released below, not for a time the case must beat: a slow machine cannot end it first.
        await client.publish(`${D}/cmd/stuck`, '{"ms":600000,"id":"holder"}');
        // Its own timeout answers it while it goes on holding the device (as an uninterruptible ioctl does).
        expect(await client.result(`${D}/result`, 'holder')).toMatchObject({ ok: false, error: { code: 'timeout' } });
        expect(p1?.holds.size).toBe(1);
      }
      const r = await mosquittoPub(agent.brokerPort as number, c.topic, c.payload);
      expect(r.status).toBe(0);
      // Results of the holder are not this case's.
      const m = await client
        .next(
          (x) => x.topic === resultTopic && client.on(resultTopic).indexOf(x) >= before && !x.payload.includes('"id":"holder"'),
          20_000,
          `${c.code} result`,
        )
        .finally(() => {
          for (const release of p1?.holds ?? []) release();
        });
      const res = JSON.parse(m.payload) as { ok: boolean; id: string; error: { code: string; errno?: string; message: string } };
      expect(res.ok).toBe(false);
      expect(res.error.code).toBe(c.code);
      expect(res.error.message.length).toBeGreaterThan(0);
      expect(typeof res.id).toBe('string');
      if (c.errno) expect(res.error.errno).toBe(c.errno);
    });
  }

  it('the limits themselves are accepted: a payload of exactly security.maxPayloadBytes, an id of exactly 128 characters', async () => {
    const id = 'k'.repeat(128);
    const frame = JSON.stringify({ id, value: '' });
    const payload = JSON.stringify({ id, value: 'v'.repeat(4096 - Buffer.byteLength(frame)) });
    expect(Buffer.byteLength(payload)).toBe(4096);
    const r = await mosquittoPub(agent.brokerPort as number, `${D}/cmd/echo`, payload);
    expect(r.status).toBe(0);
    expect(await client.result(`${D}/result`, id)).toMatchObject({ id, ok: true, result: { value: expect.any(String) } });
  });

  it('answers a payload over security.maxPayloadBytes whose first member is its id with too_large and that id (MQTT 3.1.1: no Correlation Data)', async () => {
    const payload = JSON.stringify({ id: 'big-1', value: 'y'.repeat(5000) });
    const r = await mosquittoPub(agent.brokerPort as number, `${D}/cmd/echo`, payload);
    expect(r.status).toBe(0);
    expect(await client.result(`${D}/result`, 'big-1')).toMatchObject({
      id: 'big-1',
      device: 'p1',
      command: 'echo',
      ok: false,
      error: { code: 'too_large', message: expect.stringMatching(/over the limit of 4096/) },
    });
  });

  it('is still answering afterwards, and nothing was polluted', async () => {
    const r = await client.command('dev2mqtt/t1/cmd/ping', {}, 'alive');
    expect(r).toMatchObject({ ok: true, result: { pong: true } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
