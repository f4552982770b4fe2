/**
 * The demo devices (everything `sim: true`), as config/default.json lists
 * them, for tests that need one of each kind: Home Assistant discovery, the
 * Node-RED flow. Kinds not registered in this build are left out, so the
 * list follows builtin.ts; `missingKinds()` names built-in kinds with no demo
 * device, which the tests treat as a failure (a new kind must join the demo).
 */
import { builtinKinds } from '../../src/devices/builtin.js';

export interface DemoDevice {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly sim: true;
  readonly options: Record<string, unknown>;
}

const ALL: readonly DemoDevice[] = [
  { id: 'led0', kind: 'led', name: 'Demo LED', sim: true, options: { name: 'led0' } },
  { id: 'relay', kind: 'gpio', name: 'Demo relay', sim: true, options: { line: 'GPIO17', direction: 'out' } },
  { id: 'button', kind: 'gpio', name: 'Demo button', sim: true, options: { line: 'GPIO27', direction: 'in', edge: 'both', bias: 'pull-up' } },
  { id: 'modem', kind: 'serial', name: 'Demo modem', sim: true, options: {} },
  { id: 'tape0', kind: 'tape', name: 'Demo tape drive', sim: true, options: {} },
];

export function demoDevices(): DemoDevice[] {
  const kinds = new Set(builtinKinds().map((k) => k.kind));
  return ALL.filter((d) => kinds.has(d.kind));
}

export function missingKinds(): string[] {
  const covered = new Set(ALL.map((d) => d.kind));
  return builtinKinds().map((k) => k.kind).filter((k) => !covered.has(k));
}
