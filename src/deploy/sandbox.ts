/**
 * The systemd sandbox for one node's configuration: which device nodes the
 * service may open (DeviceAllow=) and which sysfs paths it may write
 * (ReadWritePaths=). deploy/systemd/dev2mqtt.service allows every device of
 * the built-in kinds by class; the drop-in rendered here narrows that to the
 * configured devices, resolved on the machine it runs on. What a device
 * needs is its kind's to say (DeviceKind.sandbox); this file names no kind.
 */
import { realpathSync } from 'node:fs';
import type { ResolvedDevice } from '../config/load.js';
import type { AnyKind, SandboxHost } from '../devices/kind.js';

export interface Sandbox {
  readonly deviceAllow: string[];
  readonly readWritePaths: string[];
  /** Supplementary groups the devices need beyond the unit's own (SupplementaryGroups=). */
  readonly groups: string[];
  /** Devices the drop-in cannot cover, with why (kinds that declare nothing), and the kinds' own remarks. */
  readonly notes: string[];
}

export type Resolve = SandboxHost['resolve'];

/** The unit's SupplementaryGroups= (deploy/systemd/dev2mqtt.service): the drop-in adds only what is beyond them. */
export const UNIT_GROUPS: readonly string[] = ['gpio', 'dialout', 'tape'];

const realpath: Resolve = (p) => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

function add(list: string[], items: readonly string[] | undefined): void {
  for (const item of items ?? []) if (!list.includes(item)) list.push(item);
}

export function sandboxFor(
  devices: readonly ResolvedDevice[],
  kinds: { get(name: string): AnyKind | undefined },
  resolve: Resolve = realpath,
): Sandbox {
  const s: Sandbox = { deviceAllow: [], readWritePaths: [], groups: [], notes: [] };
  for (const d of devices) {
    if (d.sim) continue;
    const kind = kinds.get(d.kind);
    if (!kind?.sandbox) {
      s.notes.push(`${d.id}: kind '${d.kind}' is a plug-in; add what it opens with systemctl edit dev2mqtt`);
      continue;
    }
    const needs = kind.sandbox(d.options, { resolve });
    add(s.deviceAllow, needs.deviceAllow);
    add(s.readWritePaths, needs.readWritePaths);
    add(
      s.groups,
      needs.groups?.filter((g) => !UNIT_GROUPS.includes(g)),
    );
    s.notes.push(...(needs.notes ?? []).map((n) => `${d.id}: ${n}`));
  }
  return s;
}

export function renderDropIn(s: Sandbox, source: string): string {
  const lines = [
    `# Written by \`dev2mqtt systemd\` from ${source}: exactly the devices configured there.`,
    "# It replaces the unit's class-wide DeviceAllow= list; run it again after changing the devices.",
    ...s.notes.map((n) => `# ${n}`),
    '[Service]',
    'DeviceAllow=',
    ...s.deviceAllow.map((a) => `DeviceAllow=${a}`),
    ...s.readWritePaths.map((p) => `ReadWritePaths=${p}`),
    ...(s.groups.length ? [`SupplementaryGroups=${s.groups.join(' ')}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
