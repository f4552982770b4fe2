/**
 * The demo devices (everything `sim: true`) exactly as config/default.json
 * lists them, for tests that need one of each kind: Home Assistant discovery,
 * the Node-RED flow. `missingKinds()` names built-in kinds the demo lacks,
 * which those tests treat as a failure: a new kind must join the demo.
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

export function demoDevices(): DemoDevice[] {
  return DEFAULT.devices.map((d) => ({ ...d, options: { ...(d.options ?? {}) } }));
}

export function missingKinds(): string[] {
  const covered = new Set(DEFAULT.devices.map((d) => d.kind));
  return builtinKinds()
    .map((k) => k.kind)
    .filter((k) => !covered.has(k));
}
