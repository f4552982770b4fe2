/**
 * One sim device of every built-in kind, for tests that need one of each
 * (Home Assistant discovery), and the demo's own (the Node-RED flow drives
 * those). The demo's devices come first,
 * exactly as config/default.json lists them; a kind the demo leaves out (a
 * kind is one folder and one line in builtin.ts: joining the demo is a choice,
 * not a step) gets a sim device on its option defaults, so every kind must run
 * as a sim with `options: {}`. `missingKinds()` names the built-in kinds that
 * cannot, which those tests treat as a failure.
 */
import { readFileSync } from 'node:fs';
import { builtinKinds } from '../../src/devices/builtin.js';

export interface DemoDevice {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly sim: boolean;
  readonly options: Record<string, unknown>;
}

interface DefaultConfig {
  readonly node: { readonly id: string };
  readonly devices: DemoDevice[];
}

const DEFAULT = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as DefaultConfig;

/** The demo's node id (config/default.json). */
export const DEMO_NODE = DEFAULT.node.id;

/** Built-in kinds the demo leaves out. */
function notInDemo(): string[] {
  const covered = new Set(DEFAULT.devices.map((d) => d.kind));
  return builtinKinds()
    .map((k) => k.kind)
    .filter((k) => !covered.has(k));
}

/** The demo's own devices, exactly as config/default.json lists them (the Node-RED flow drives each). */
export function curatedDemoDevices(): DemoDevice[] {
  return DEFAULT.devices.map((d) => ({ ...d, options: { ...(d.options ?? {}) } }));
}

/** The demo's devices, then one on its sim defaults for each built-in kind the demo leaves out. */
export function demoDevices(): DemoDevice[] {
  return [
    ...curatedDemoDevices(),
    ...notInDemo().map((kind) => ({ id: kind, kind, name: `${kind} (sim, defaults)`, sim: true, options: {} })),
  ];
}

/** Built-in kinds the demo leaves out whose sim does not accept its defaults (`options: {}`). */
export function missingKinds(): string[] {
  const kinds = new Map(builtinKinds().map((k) => [k.kind, k]));
  return notInDemo().filter((k) => !kinds.get(k)?.options(true).parse({}).ok);
}
