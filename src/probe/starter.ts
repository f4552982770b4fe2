/**
 * A starter configuration from what `probe` found: each kind says which of
 * its findings are worth configuring at once (KindProbe.starter); this file
 * only makes their ids unique and valid. Only kinds this build knows are
 * used, so `check-config` accepts the result as printed.
 */
import { ID_PATTERN } from '../config/schema.js';
import type { ProbeResult } from './scan.js';

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
  /** The plug-in modules probe was asked to load, so the config loads them too. */
  readonly plugins?: string[];
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

export function starterConfig(r: ProbeResult, plugins: readonly string[] = []): StarterConfig {
  const taken = new Set<string>();
  const devices: StarterDevice[] = [];
  for (const k of r.kinds) {
    for (const d of k.probe.starter?.(k.found, r.host) ?? []) {
      devices.push({ id: deviceId(d.name, taken), kind: k.kind, name: d.title, options: d.options });
    }
  }
  return {
    node: { groups: [] },
    mqtt: { url: 'mqtt://localhost:1883' },
    homeassistant: { enabled: false },
    ...(plugins.length ? { plugins: [...plugins] } : {}),
    devices,
  };
}
