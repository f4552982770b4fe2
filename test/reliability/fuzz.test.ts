/**
 * A seeded fuzz of the agent over a real mosquitto: 20,000 hostile messages
 * (fuzz-gen.ts) after a warm-up of 4,000. The agent runs alone in a child
 * process with --expose-gc (fixtures/fuzz-agent.mjs), so its heap is its own.
 *
 * Every message carries an MQTT 5 Response Topic and its index as Correlation
 * Data, so each result is matched to its message whatever the payload was:
 * a message on a command topic of the node gets exactly one result, any other
 * none. Afterwards: the process is alive and still answers, no built-in
 * prototype gained a property, and the heap after full collections is within
 * 10% of what it was after the warm-up (the warm-up fills the dedupe window,
 * so the two are compared in the same steady state).
 *
 * DEV2MQTT_FUZZ_SEED picks another seed; a failure prints the seed to replay.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinKinds } from '../../src/devices/builtin.js';
import { tempDir } from '../helpers/agent.js';
import { Mosquitto, mosquittoItself } from '../helpers/mosquitto.js';
import { writeConfig } from './helpers/child-agent.js';
import { generate, prng, type FuzzTarget } from './helpers/fuzz-gen.js';
import { deadline } from '../helpers/deadline.js';

// Every message carries MQTT 5 properties, which aedes does not speak: this suite needs mosquitto.
const ok = mosquittoItself('the fuzz suite (MQTT 5 response topics: aedes speaks 3.1.1 only)');
const SEED = Number(process.env.DEV2MQTT_FUZZ_SEED ?? 20_240_917);
const COUNT = 20_000;
const WARMUP = 4_000;
const IN_FLIGHT = 200;
const MAX_PAYLOAD = 65_536;
const CHILD = fileURLToPath(new URL('../fixtures/fuzz-agent.mjs', import.meta.url));
const REPLY = 'fuzz/reply';

type Reply = { type: string } & Record<string, unknown>;

describe.skipIf(!ok)(`fuzz (seed ${SEED})`, () => {
  let broker: Mosquitto;
  let child: ChildProcess;
  let client: MqttClient;
  const fromChild: Reply[] = [];
  const replies = new Map<string, number>();
  let protoBefore: unknown;

  /** The next message of `type` from the child. */
  function ask(what: string, type: string): Promise<Reply> {
    const seen = fromChild.length;
    child.send(what);
    return new Promise((resolve, reject) => {
      const t = setInterval(() => {
        const crash = fromChild.find((m) => m.type === 'crash');
        if (crash) reject(new Error(`the agent crashed: ${String(crash.message)}`));
        const hit = fromChild.slice(seen).find((m) => m.type === type);
        if (hit) {
          clearInterval(t);
          resolve(hit);
        }
      }, 5);
    });
  }

  const devices = new Map([
    ['led1', { kind: 'led', sim: true, options: { pollMs: 0 } }],
    ['gpio1', { kind: 'gpio', sim: true, options: { line: 17, direction: 'out' } }],
    [
      'tape1',
      {
        kind: 'tape',
        sim: true,
        options: {
          pollMs: 0,
          sim: {
            timing: {
              rewindMs: 0,
              spaceMs: 0,
              eomMs: 0,
              eraseMs: 0,
              retensionMs: 0,
              loadMs: 0,
              unloadMs: 0,
              weofMs: 0,
              bytesPerS: 1 << 30,
            },
          },
        },
      },
    ],
  ]);
  const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));
  const target: FuzzTarget = {
    base: 'dev2mqtt',
    node: 'fz',
    groups: ['fzg'],
    devices: new Map(
      [...devices].map(([id, d]) => {
        const kind = kinds.get(d.kind);
        if (!kind) throw new Error(`no kind ${d.kind}`);
        return [
          id,
          new Map(
            Object.entries(kind.commands).map(([name, spec]) => [
              name,
              Object.keys((spec.args.describe().properties as Record<string, unknown> | undefined) ?? {}),
            ]),
          ),
        ];
      }),
    ),
    nodeCommands: ['ping', 'describe', 'batch', 'cancel'],
    maxPayloadBytes: MAX_PAYLOAD,
    // A valid pulse {ms: 60000} would hold the line a minute: fine in life, too slow for a bounded test.
    avoid: new Set(['pulse', 'readFile', 'writeFile']),
  };

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const dir = tempDir('dev2mqtt-fuzz-');
    const config = writeConfig(
      {
        node: { id: target.node, groups: target.groups, stateDir: path.join(dir, 'state') },
        mqtt: { url: broker.url },
        devices: [...devices].map(([id, d]) => ({ id, ...d })),
        // The window at its steady state within the warm-up; no rate limit, so every message reaches its handler.
        security: { maxPayloadBytes: MAX_PAYLOAD, rateLimitPerS: 0, dedupeWindow: 2000 },
        telemetry: { stateThrottleMs: 100 },
        log: { level: 'error' },
      },
      dir,
    );
    child = fork(CHILD, [config], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m) => fromChild.push(m as Reply));
    const ready = await new Promise<Reply>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it was ready`)));
      const t = setInterval(() => {
        const r = fromChild.find((m) => m.type === 'ready');
        if (r) {
          clearInterval(t);
          resolve(r);
        }
      }, 5);
    });
    protoBefore = ready.proto;
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    client.on('message', (_topic, _payload, packet) => {
      const key = packet.properties?.correlationData?.toString() ?? '?';
      replies.set(key, (replies.get(key) ?? 0) + 1);
    });
    await client.subscribeAsync(REPLY, { qos: 1 });
  });
  afterAll(async () => {
    await client?.endAsync(true);
    if (child && child.exitCode === null) {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    }
    await broker?.stop();
  });

  /** Publishes `n` generated messages, keeping IN_FLIGHT unacknowledged at most; returns which must be answered. */
  async function blast(
    seed: number,
    n: number,
    prefix: string,
  ): Promise<{ answered: string[]; silent: string[]; kinds: Map<string, number> }> {
    const r = prng(seed);
    const answered: string[] = [];
    const silent: string[] = [];
    const kinds = new Map<string, number>();
    const flying = new Set<Promise<unknown>>();
    for (let i = 0; i < n; i++) {
      const m = generate(r, target);
      const key = `${prefix}${i}`;
      (m.answered ? answered : silent).push(key);
      kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
      const p = client.publishAsync(m.topic, m.payload, {
        qos: 1,
        properties: { responseTopic: REPLY, correlationData: Buffer.from(key) },
      });
      flying.add(p);
      void p.finally(() => flying.delete(p));
      if (flying.size >= IN_FLIGHT) await Promise.race(flying);
    }
    await Promise.all(flying);
    return { answered, silent, kinds };
  }

  /** Waits until each of `keys` has a result: it fails once no new result has come for a minute (stretched, see deadline.ts). */
  async function allAnswered(keys: readonly string[]): Promise<void> {
    let seen = replies.size;
    let stalledAt = Date.now() + deadline(60_000);
    while (keys.some((k) => !replies.has(k))) {
      if (replies.size !== seen) {
        seen = replies.size;
        stalledAt = Date.now() + deadline(60_000);
      }
      if (Date.now() > stalledAt)
        throw new Error(
          `seed ${SEED}: no result for ${keys
            .filter((k) => !replies.has(k))
            .slice(0, 10)
            .join(', ')}`,
        );
      if (fromChild.some((m) => m.type === 'crash')) throw new Error(`seed ${SEED}: the agent crashed`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // A node ping goes through the same connection and dispatcher: once it is back, nothing else is on its way.
    await client.publishAsync('dev2mqtt/fz/cmd/ping', '{}', {
      qos: 1,
      properties: { responseTopic: REPLY, correlationData: Buffer.from('sync') },
    });
    while (!replies.has('sync')) await new Promise((r) => setTimeout(r, 10));
    replies.delete('sync');
    // A grace for a second result of any command (none is expected): it can only catch more, never fail a good run.
    await new Promise((r) => setTimeout(r, 500));
  }

  it(
    `${COUNT} hostile messages: no crash, no pollution, one result per command message, heap back within 10%`,
    async () => {
      const warm = await blast(SEED ^ 0x9e3779b9, WARMUP, 'w');
      await allAnswered(warm.answered);
      const before = Number((await ask('heap', 'heap')).heapUsed);

      const run = await blast(SEED, COUNT, 'f');
      await allAnswered(run.answered);
      const after = Number((await ask('heap', 'heap')).heapUsed);

      // Alive, and still answering.
      expect(child.exitCode).toBeNull();
      await client.publishAsync('dev2mqtt/fz/cmd/ping', '{"id":"alive"}', {
        qos: 1,
        properties: { responseTopic: REPLY, correlationData: Buffer.from('alive') },
      });
      while (!replies.has('alive')) await new Promise((r) => setTimeout(r, 10));

      // Exactly one result per command message, none for the rest.
      const wrong = [...run.answered.filter((k) => replies.get(k) !== 1), ...run.silent.filter((k) => replies.has(k))];
      expect(
        wrong.map((k) => `${k}: ${replies.get(k) ?? 0} results`),
        `seed ${SEED}`,
      ).toEqual([]);
      expect(run.answered.length).toBeGreaterThan(COUNT / 2);

      // No prototype gained a property.
      const proto = await ask('proto', 'proto');
      expect(proto.names, `seed ${SEED}`).toEqual(protoBefore);
      expect(proto.polluted).toBeNull();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();

      console.log(
        `fuzz: seed ${SEED}; ${COUNT} messages (${run.answered.length} on command topics, ${run.silent.length} elsewhere); ` +
          `${[...run.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}; heap after GC ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB`,
      );
      expect(after, `seed ${SEED}: heap grew from ${before} to ${after}`).toBeLessThanOrEqual(before * 1.1);
    },
    deadline(600_000),
  );
});
