/**
 * Node-RED 4 and node-red-node-test-helper, loaded from examples/node-red's own
 * node_modules (its `npm ci`, not the agent's). Neither ships types: the few
 * calls the tests make are typed here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const requireHere = createRequire(import.meta.url);

/** examples/node-red/ */
export const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const MODULE_DIR = path.join(EXAMPLE_DIR, 'node-red-contrib-dev2mqtt');
export const FLOW_FILE = path.join(EXAMPLE_DIR, 'flow.json');

export type NrMessage = Record<string, unknown>;

export interface NrStatus {
  readonly fill?: string;
  readonly shape?: string;
  readonly text?: string;
}

export interface NrNode {
  readonly id: string;
  readonly type: string;
  receive(msg?: NrMessage): void;
  on(event: 'input', listener: (msg: NrMessage) => void): void;
  /** Emitted (by the helper's spies) after each node.status / node.error / node.warn call. */
  on(event: 'call:status' | 'call:error' | 'call:warn', listener: (call: { args: unknown[] }) => void): void;
}

export interface TestHelper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  load(nodes: NodeModule[], flow: FlowNode[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): NrNode | null;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
}

/** A node module's export: what Node-RED calls with its `RED` API. */
export type NodeModule = (red: unknown) => void;

export type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

export function nodeRedVersion(): string {
  return (JSON.parse(readFileSync(requireHere.resolve('node-red/package.json'), 'utf8')) as { version: string }).version;
}

let helper: TestHelper | undefined;

/** Fails with what to do when examples/node-red's own dependencies are not installed. */
function needInstalled(): void {
  try {
    requireHere.resolve('node-red');
    requireHere.resolve('node-red-node-test-helper');
  } catch {
    throw new Error('Node-RED is not installed for these tests: run `npm ci --prefix examples/node-red` first');
  }
}

/** The test helper, bound to the Node-RED of examples/node-red/node_modules. */
export function testHelper(): TestHelper {
  if (!helper) {
    needInstalled();
    helper = requireHere('node-red-node-test-helper') as TestHelper;
    // Telemetry and the update check would reach out to nodered.org: the tests talk to loopback only.
    helper.init(requireHere.resolve('node-red'), {
      telemetry: { enabled: false, updateNotification: false },
      // A broker node retries every 5 s by default; the outage test need not wait that long.
      mqttReconnectTime: 250,
    });
  }
  return helper;
}

const coreNode = (file: string): NodeModule => requireHere(`@node-red/nodes/core/${file}`) as NodeModule;

/** The core nodes the subflow and the example flow use, and the subflow module itself. */
export function nodeModules(): NodeModule[] {
  return [
    coreNode('common/20-inject.js'),
    coreNode('common/21-debug.js'),
    coreNode('common/25-status.js'),
    coreNode('common/90-comment.js'),
    coreNode('function/10-function.js'),
    coreNode('function/10-switch.js'),
    coreNode('function/15-change.js'),
    coreNode('network/10-mqtt.js'),
    ...subflowModule(),
  ];
}

/** The subflow module's node files, found as Node-RED finds them: package.json's node-red.nodes. */
function subflowModule(): NodeModule[] {
  const pkg = JSON.parse(readFileSync(path.join(MODULE_DIR, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  return Object.values(pkg['node-red'].nodes).map((file) => requireHere(path.join(MODULE_DIR, file)) as NodeModule);
}

export function readFlow(): FlowNode[] {
  return JSON.parse(readFileSync(FLOW_FILE, 'utf8')) as FlowNode[];
}

/** An mqtt-broker config node for `url` (mqtt://host:port) speaking MQTT 3.1.1 (4) or 5. */
export function brokerNode(id: string, url: string, protocolVersion: 4 | 5): FlowNode {
  const u = new URL(url);
  return {
    id,
    type: 'mqtt-broker',
    name: `test broker v${protocolVersion}`,
    broker: u.hostname,
    port: u.port,
    clientid: '',
    autoConnect: true,
    usetls: false,
    protocolVersion: String(protocolVersion),
    keepalive: '60',
    cleansession: true,
    autoUnsubscribe: true,
  };
}
