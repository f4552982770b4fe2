/**
 * examples/node-red/flow.json: it parses as a Node-RED flow (ids, wires,
 * config nodes, function bodies), every topic it sends to is a command topic
 * of the contract naming a demo device and one of its commands, and every
 * topic it listens to is one the agent publishes. Then the flow's own nodes
 * are run (injects → the function nodes' code → mqtt out) against an agent
 * with the demo devices, and each command must come back ok.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { deviceTopic, nodeTopic, parseCommandTopic, type TopicScheme } from '../../src/agent/topics.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { startAgent } from '../helpers/agent.js';
import { curatedDemoDevices } from '../helpers/demo-devices.js';
import { TestClient } from '../helpers/mqtt-client.js';

type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

const flow = JSON.parse(readFileSync(new URL('../../examples/node-red/flow.json', import.meta.url), 'utf8')) as FlowNode[];
const byId = new Map(flow.map((n) => [n.id, n]));
const tab = flow.find((n) => n.type === 'tab')!;
const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));

const NODE_COMMANDS = ['ping', 'describe', 'batch', 'cancel'];
const CORE_TYPES = new Set(['tab', 'mqtt-broker', 'inject', 'function', 'mqtt out', 'mqtt in', 'debug', 'comment']);

const DEMO = curatedDemoDevices();
const kindOf = (device: string): string | undefined => DEMO.find((d) => d.id === device)?.kind;

/** MQTT filter matching, for the mqtt in nodes. */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

interface Sent {
  readonly inject: string;
  readonly topic: string;
  readonly payload: string;
}

/** Runs a function node's code as Node-RED does: msg in, msg (or null) out, env from the tab. */
function runFunction(n: FlowNode, msg: Record<string, unknown>, env: Record<string, string>): Record<string, unknown> | null {
  const warnings: string[] = [];
  const sandbox = {
    msg,
    env: { get: (k: string) => env[k] },
    node: { warn: (w: string) => warnings.push(w), error: (e: string) => warnings.push(e) },
  };
  const out = vm.runInNewContext(`(function () {\n${n.func as string}\n})()`, sandbox) as Record<string, unknown> | null;
  if (warnings.length) throw new Error(`${String(n.name)} warned: ${warnings.join('; ')}`);
  return out;
}

/** Follows an inject through the flow to the mqtt out node, as the runtime would. */
function send(inject: FlowNode, env: Record<string, string>): Sent[] {
  const payload = inject.payloadType === 'json' ? (JSON.parse(inject.payload as string) as unknown) : inject.payload;
  const sent: Sent[] = [];
  const walk = (ids: string[], msg: Record<string, unknown>): void => {
    for (const id of ids) {
      const n = byId.get(id)!;
      if (n.type === 'function') {
        const out = runFunction(n, { ...msg }, env);
        if (out) walk(n.wires?.[0] ?? [], out);
      } else if (n.type === 'mqtt out') {
        const p = msg.payload;
        sent.push({
          inject: String(inject.name),
          topic: (n.topic as string) || String(msg.topic),
          payload: typeof p === 'string' ? p : JSON.stringify(p),
        });
      }
    }
  };
  walk(inject.wires?.[0] ?? [], { topic: inject.topic, payload });
  return sent;
}

const tabEnv = Object.fromEntries((tab.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));

describe('the Node-RED example flow', () => {
  it('is a well-formed flow of core nodes: unique ids, live wires, one tab, config nodes that exist, code that compiles', () => {
    expect(Array.isArray(flow)).toBe(true);
    expect(new Set(flow.map((n) => n.id)).size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab')).toHaveLength(1);
    for (const n of flow) {
      expect(CORE_TYPES.has(n.type), `${n.id} is a ${n.type}`).toBe(true);
      if (n.type !== 'tab' && n.type !== 'mqtt-broker') expect(n.z, n.id).toBe(tab.id);
      for (const out of n.wires ?? []) for (const target of out) expect(byId.has(target), `${n.id} wires to ${target}`).toBe(true);
      if (n.type === 'mqtt in' || n.type === 'mqtt out') expect(byId.get(n.broker as string)?.type, `${n.id} broker`).toBe('mqtt-broker');
      if (n.type === 'function') expect(() => new vm.Script(`(function () {\n${n.func as string}\n})`), String(n.name)).not.toThrow();
      if (n.type === 'inject' && n.payloadType === 'json') expect(() => JSON.parse(n.payload as string), String(n.name)).not.toThrow();
    }
    expect(tabEnv.DEV2MQTT_NODE).toBeTruthy();
  });

  it('sends only command topics of the contract, each to a demo device and one of its commands', () => {
    const t: TopicScheme = { base: tabEnv.DEV2MQTT_BASE ?? 'dev2mqtt', node: tabEnv.DEV2MQTT_NODE!, groups: [] };
    const injects = flow.filter((n) => n.type === 'inject');
    const sent = injects.flatMap((i) => send(i, tabEnv));
    expect(sent).toHaveLength(injects.length);
    const devicesDriven = new Set<string>();
    for (const s of sent) {
      const a = parseCommandTopic(t, s.topic);
      expect(a, `${s.inject}: ${s.topic}`).not.toBeNull();
      if (a?.scope === 'node') {
        expect(NODE_COMMANDS, s.inject).toContain(a.command);
        if (a.command === 'batch') devicesDriven.add((JSON.parse(s.payload) as { device: string }).device);
      } else if (a?.scope === 'device') {
        const kind = kindOf(a.device);
        expect(kind, `${s.inject}: no demo device ${a.device}`).toBeDefined();
        const commands = Object.keys(kinds.get(kind!)?.commands ?? {});
        expect(commands, s.inject).toContain(a.command);
        devicesDriven.add(a.device);
      }
    }
    expect([...devicesDriven].sort()).toEqual(DEMO.map((d) => d.id).sort());
  });

  it('listens to result, event, state and availability topics of the contract', () => {
    const filters = flow.filter((n) => n.type === 'mqtt in').map((n) => n.topic as string);
    // Every topic the contract has the agent publish, for a node `n` and each demo device.
    const t: TopicScheme = { base: 'dev2mqtt', node: 'n', groups: [] };
    const shapes = [
      ...(['status', 'state', 'devices', 'result'] as const).map((leaf) => nodeTopic(t, leaf)),
      ...DEMO.flatMap((d) => (['state', 'availability', 'event', 'result'] as const).map((leaf) => deviceTopic(t, d.id, leaf))),
    ];
    for (const f of filters)
      expect(
        shapes.some((s) => matches(f, s)),
        f,
      ).toBe(true);
    expect(filters.some((f) => matches(f, deviceTopic(t, 'led0', 'result')))).toBe(true);
    expect(filters.some((f) => matches(f, nodeTopic(t, 'result')))).toBe(true);
    expect(filters.some((f) => matches(f, deviceTopic(t, 'button', 'event')))).toBe(true);
  });

  describe('run against an agent with the demo devices', () => {
    let agent: Agent;
    let client: TestClient;
    const env = { ...tabEnv, DEV2MQTT_NODE: 'nr-test' };

    beforeAll(async () => {
      // The button presses itself, as in the demo config, so the flow sees edges.
      const devices = DEMO.map((d) => (d.id === 'button' ? { ...d, options: { ...d.options, simToggleMs: 300 } } : d));
      agent = await startAgent({ config: { node: { id: env.DEV2MQTT_NODE }, devices } });
      client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
      await client.subscribe('dev2mqtt/#');
    });
    afterAll(async () => {
      await client?.end();
      await agent?.stop();
    });

    it('every command of the flow comes back ok, in order, and the formatter shows it', async () => {
      const fmt = flow.find((n) => n.name === 'one line per result')!;
      for (const inject of flow.filter((n) => n.type === 'inject')) {
        for (const s of send(inject, env)) {
          const a = parseCommandTopic({ base: 'dev2mqtt', node: env.DEV2MQTT_NODE, groups: [] }, s.topic)!;
          const resultTopic = a.scope === 'device' ? s.topic.replace(/\/cmd\/[^/]+$/, '/result') : `dev2mqtt/${env.DEV2MQTT_NODE}/result`;
          const seen = client.messages.length;
          await client.publish(s.topic, s.payload);
          const m = await client.next(
            (x) =>
              client.messages.indexOf(x) >= seen &&
              x.topic === resultTopic &&
              (JSON.parse(x.payload) as { command: string }).command === a.command,
            20_000,
            `the result of "${s.inject}"`,
          );
          const result = JSON.parse(m.payload) as Record<string, unknown>;
          expect(result, s.inject).toMatchObject({ ok: true });
          const line = runFunction(fmt, { payload: result }, env);
          expect(line?.payload, s.inject).toMatch(/: ok \(/);
        }
      }
    });

    it('each mqtt in node of the flow receives what the agent publishes', async () => {
      await client.next((m) => m.topic === `dev2mqtt/${env.DEV2MQTT_NODE}/button/event`, 20_000, 'a button edge');
      for (const n of flow.filter((x) => x.type === 'mqtt in')) {
        const f = n.topic as string;
        if (f.endsWith('/event') && !f.includes('button')) continue; // tape progress and URCs need a long tape job or a ringing modem
        expect(
          client.messages.some((m) => matches(f, m.topic)),
          `${String(n.name)}: ${f}`,
        ).toBe(true);
      }
    });
  });
});
