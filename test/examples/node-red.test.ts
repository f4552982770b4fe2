/**
 * The Node-RED pieces, checked without Node-RED: the subflow module
 * (examples/node-red/node-red-contrib-dev2mqtt) registers one well-formed
 * subflow with its function code in place, and examples/node-red/flow.json is
 * a flow of core nodes and that subflow, sending commands the agent's kinds
 * have and listening to topics the agent publishes.
 *
 * Running both in real Node-RED 4 is a separate suite (examples/node-red/test):
 * Node-RED comes from npm through examples/node-red's own package.json, so the
 * agent's `npm ci` stays lean. `.ci/run` installs and runs it after this one.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { deviceTopic, nodeTopic, type TopicScheme } from '../../src/agent/topics.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { curatedDemoDevices } from '../helpers/demo-devices.js';

type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

const MODULE = new URL('../../examples/node-red/node-red-contrib-dev2mqtt/', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', MODULE), 'utf8')) as {
  name: string;
  version: string;
  'node-red': { version: string; nodes: Record<string, string> };
};
const flow = JSON.parse(readFileSync(new URL('../../examples/node-red/flow.json', import.meta.url), 'utf8')) as FlowNode[];
const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));
const NODE_COMMANDS = ['ping', 'describe', 'batch', 'cancel'];

interface Subflow {
  id: string;
  type: string;
  in: Array<{ wires: Array<{ id: string }> }>;
  out: Array<{ wires: Array<{ id: string; port: number }> }>;
  env: Array<{ name: string; type: string; ui?: { type?: string } }>;
  meta: { module: string; type: string; version: string };
  status?: { wires: Array<{ id: string }> };
  flow: FlowNode[];
}

/** Loads the module as Node-RED does (package.json's node-red.nodes) with a RED that records what it registers. */
function registered(): Subflow[] {
  const load = createRequire(MODULE);
  const subflows: Subflow[] = [];
  const RED = { nodes: { registerSubflow: (s: Subflow) => subflows.push(s) } };
  for (const file of Object.values(pkg['node-red'].nodes)) (load(`./${file}`) as (red: typeof RED) => void)(RED);
  return subflows;
}

/** A function node's code compiles as Node-RED wraps it: the body of an async function of msg. */
function compiles(code: unknown): boolean {
  new vm.Script(`(async function (msg) {\n${String(code)}\n})`);
  return true;
}

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

describe('the dev2mqtt command subflow module', () => {
  const subflows = registered();
  const sf = subflows[0]!;
  const ids = new Set(sf.flow.map((n) => n.id));

  it('registers one subflow, typed and versioned as its package', () => {
    expect(subflows).toHaveLength(1);
    expect(sf.type).toBe('subflow');
    expect(sf.meta).toMatchObject({ module: pkg.name, type: 'dev2mqtt-command', version: pkg.version });
    expect(pkg['node-red'].version).toMatch(/^>=4\./);
  });

  it('takes one input and has ok and error outputs, and Broker, Base topic, Node and Timeout properties', () => {
    expect(sf.in).toHaveLength(1);
    expect(sf.out).toHaveLength(2);
    for (const port of [...sf.in, ...sf.out, ...(sf.status ? [sf.status] : [])])
      for (const w of port.wires) expect(ids.has(w.id), w.id).toBe(true);
    expect(sf.env.map((e) => e.name)).toEqual(['BROKER', 'BASE_TOPIC', 'NODE_ID', 'TIMEOUT_MS']);
    expect(sf.env[0]).toMatchObject({ type: 'mqtt-broker', ui: { type: 'conf-types' } });
  });

  it('has its function code in place, compiling, and its mqtt nodes on the Broker property', () => {
    for (const n of sf.flow) {
      expect(n.z, n.id).toBe(sf.id);
      expect(n.codeFiles, n.id).toBeUndefined();
      for (const out of n.wires ?? []) for (const target of out) expect(ids.has(target), `${n.id} → ${target}`).toBe(true);
      if (n.type === 'function') expect(compiles(n.func), n.id).toBe(true);
      if (n.type === 'mqtt in' || n.type === 'mqtt out') expect(n.broker, n.id).toBe('${BROKER}');
    }
    expect(sf.flow.filter((n) => n.type === 'function').map((n) => String(n.func).length)).toEqual([
      expect.any(Number),
      expect.any(Number),
    ]);
  });
});

describe('the Node-RED example flow', () => {
  const byId = new Map(flow.map((n) => [n.id, n]));
  const tab = flow.find((n) => n.type === 'tab')!;
  const CORE = new Set(['tab', 'mqtt-broker', 'comment', 'inject', 'function', 'switch', 'mqtt in', 'debug']);

  it('is one tab of core nodes and the dev2mqtt command subflow, wired to nodes that exist', () => {
    expect(new Set(flow.map((n) => n.id)).size).toBe(flow.length);
    expect(flow.filter((n) => n.type === 'tab')).toHaveLength(1);
    for (const n of flow) {
      expect(CORE.has(n.type) || n.type === 'dev2mqtt-command', `${n.id} is a ${n.type}`).toBe(true);
      if (n.type !== 'tab' && n.type !== 'mqtt-broker') expect(n.z, n.id).toBe(tab.id);
      for (const out of n.wires ?? []) for (const target of out) expect(byId.has(target), `${n.id} → ${target}`).toBe(true);
      if (n.type === 'mqtt in') expect(byId.get(n.broker as string)?.type, `${n.id} broker`).toBe('mqtt-broker');
      if (n.type === 'dev2mqtt-command') expect(byId.get(n.BROKER as string)?.type, `${n.id} broker`).toBe('mqtt-broker');
      if (n.type === 'function') expect(compiles(n.func), String(n.name)).toBe(true);
    }
    expect(flow.filter((n) => n.type === 'dev2mqtt-command')).toHaveLength(1);
  });

  it('sets every property of the subflow on its instance (Node-RED does not start an instance that lacks one)', () => {
    const [sf] = registered();
    for (const n of flow.filter((x) => x.type === 'dev2mqtt-command')) {
      for (const e of sf!.env) expect(n[e.name], `${n.id}: ${e.name}`).toBeDefined();
    }
  });

  it("injects name a kind of the agent's (or `node`) and a command of that kind", () => {
    const injects = flow.filter((n) => n.type === 'inject');
    expect(injects.length).toBeGreaterThan(0);
    const prop = (n: FlowNode, p: string): string => String((n.props as Array<{ p: string; v?: string }>).find((x) => x.p === p)?.v);
    for (const i of injects) {
      const kind = prop(i, 'kind');
      const command = prop(i, 'command');
      if (kind === 'node') expect(NODE_COMMANDS, String(i.name)).toContain(command);
      else expect(Object.keys(kinds.get(kind)?.commands ?? {}), String(i.name)).toContain(command);
    }
    // Every kind of the demo has an inject.
    const driven = new Set(injects.map((i) => prop(i, 'kind')));
    for (const d of curatedDemoDevices()) expect(driven.has(d.kind), d.kind).toBe(true);
  });

  it("listens to the agents' device lists, node status, device availability and events", () => {
    const filters = flow.filter((n) => n.type === 'mqtt in').map((n) => n.topic as string);
    const t: TopicScheme = { base: 'dev2mqtt', node: 'n', groups: [] };
    for (const topic of [
      nodeTopic(t, 'devices'),
      nodeTopic(t, 'status'),
      deviceTopic(t, 'led0', 'availability'),
      deviceTopic(t, 'button', 'event'),
    ]) {
      expect(
        filters.some((f) => matches(f, topic)),
        topic,
      ).toBe(true);
    }
  });

  // Said here so that `npm test` never passes over the Node-RED suite silently.
  console.warn(
    'skipping: the Node-RED suite (examples/node-red/test) runs apart, with Node-RED 4 from npm: npm ci --prefix examples/node-red && npm run test:node-red',
  );
  it.skip('runs in real Node-RED 4: a separate suite (needs Node-RED from npm) — npm ci --prefix examples/node-red && npm run test:node-red; .ci/run runs it', () => {});
});
