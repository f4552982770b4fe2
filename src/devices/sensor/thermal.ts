/**
 * A thermal zone (`/sys/class/thermal/thermal_zoneN/temp`, millidegree
 * Celsius; Documentation/driver-api/thermal/sysfs-api.rst), found by
 * `thermal_zoneN`, `N`, or its `type` (`cpu-thermal` on a Raspberry Pi,
 * `x86_pkg_temp`, `acpitz`), which survives a renumbering.
 */
import type { Sysfs } from '../../kernel/sysfs.js';
import { tidy } from './quantities.js';
import { ambiguous, entries, notFound, type SensorSource } from './source.js';

const CLASS = 'class/thermal';

export interface ThermalZone {
  readonly zone: string;
  readonly type: string | undefined;
}

export async function thermalZones(sysfs: Sysfs): Promise<ThermalZone[]> {
  const out: ThermalZone[] = [];
  for (const zone of await entries(sysfs, CLASS, /^thermal_zone\d+$/)) {
    out.push({ zone, type: await sysfs.value(`${CLASS}/${zone}/type`).catch(() => undefined) });
  }
  return out;
}

export async function findZone(sysfs: Sysfs, want: string): Promise<ThermalZone> {
  const zones = await thermalZones(sysfs);
  const name = /^\d+$/.test(want) ? `thermal_zone${want}` : want;
  const exact = zones.find((z) => z.zone === name);
  if (exact) return exact;
  const typed = zones.filter((z) => z.type === want);
  if (typed.length === 1) return typed[0] as ThermalZone;
  if (typed.length > 1)
    throw ambiguous(
      `thermal zone type '${want}'`,
      typed.map((z) => z.zone),
      'name the zone (thermal_zoneN) instead',
    );
  throw notFound(
    sysfs.path(CLASS),
    `thermal zone '${want}'`,
    zones.map((z) => `${z.zone} (${z.type ?? '?'})`),
  );
}

export async function thermalSource(sysfs: Sysfs, want: string): Promise<SensorSource> {
  const z = await findZone(sysfs, want);
  const rel = `${CLASS}/${z.zone}/temp`;
  return {
    quantity: 'temperature',
    label: z.type ?? z.zone,
    path: sysfs.path(rel),
    chip: z.type ?? z.zone,
    read: async () => tidy((await sysfs.number(rel)) / 1000, 'temperature'),
  };
}
