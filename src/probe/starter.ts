/**
 * A starter configuration from what `probe` found: every LED, every USB
 * serial port (by its /dev/serial/by-id name when it has one: stable across
 * reboots) and every tape drive (the non-rewinding /dev/nstN). Built-in UARTs
 * (ttyS*, ttyAMA*) are listed but not configured: one is often the serial
 * console, which an agent holding the port would cut off. GPIO lines are not
 * guessed either — driving an unknown line can damage what is wired to it —
 * the listing shows the chips and free lines to pick from. Only kinds this build
 * knows are used, so `check-config` accepts the result as printed.
 */
import { ID_PATTERN } from '../config/schema.js';
import type { ProbeResult, ProbeRoots } from './scan.js';

export interface StarterDevice {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly options: Record<string, unknown>;
}

export interface StarterConfig {
  readonly node: { readonly groups: string[] };
  readonly mqtt: { readonly url: string };
  readonly homeassistant: { readonly enabled: boolean };
  readonly devices: StarterDevice[];
}

/** A device id from a kernel name: `input3::capslock` → `input3-capslock`, `ACT` → `act`. */
export function deviceId(raw: string, taken: Set<string>): string {
  const base =
    raw
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56) || 'device';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  if (!ID_PATTERN.test(id)) throw new Error(`cannot make a device id from '${raw}'`);
  taken.add(id);
  return id;
}

export function starterConfig(found: ProbeResult, roots: ProbeRoots, kinds: ReadonlySet<string>): StarterConfig {
  const taken = new Set<string>();
  const devices: StarterDevice[] = [];
  if (kinds.has('led')) {
    for (const led of found.leds) {
      devices.push({
        id: deviceId(led.name, taken),
        kind: 'led',
        name: `LED ${led.name}`,
        options: {
          name: led.name,
          ...(roots.sysRoot !== '/sys' ? { sysfsRoot: roots.sysRoot } : {}),
          ...(led.maxBrightness !== undefined && led.maxBrightness !== 255 ? { maxBrightness: led.maxBrightness } : {}),
        },
      });
    }
  }
  if (kinds.has('serial')) {
    for (const port of found.serial.filter((p) => /^tty(USB|ACM)/.test(p.name))) {
      devices.push({
        id: deviceId(port.name, taken),
        kind: 'serial',
        name: `Serial ${port.name}${port.driver ? ` (${port.driver})` : ''}`,
        options: { path: port.byId ?? port.path, baud: 115200 },
      });
    }
  }
  if (kinds.has('tape')) {
    for (const tape of found.tapes) {
      const what = [tape.vendor, tape.model].filter(Boolean).join(' ');
      devices.push({
        id: deviceId(tape.name.replace(/^nst/, 'tape'), taken),
        kind: 'tape',
        name: what ? `Tape ${what}` : `Tape ${tape.name}`,
        options: { path: tape.path },
      });
    }
  }
  return { node: { groups: [] }, mqtt: { url: 'mqtt://localhost:1883' }, homeassistant: { enabled: false }, devices };
}
