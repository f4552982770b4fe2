/**
 * The systemd sandbox for one node's configuration: which device nodes the
 * service may open (DeviceAllow=) and which sysfs paths it may write
 * (ReadWritePaths=). deploy/systemd/dev2mqtt.service allows every device of
 * the built-in kinds by class; the drop-in rendered here narrows that to the
 * configured devices, resolved on the machine it runs on (an LED's
 * /sys/class/leds/NAME is a symlink into /sys/devices, which is what a
 * read-only /sys must leave writable).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedDevice } from '../config/load.js';
import { chipPath } from '../devices/gpio/chip.js';
import { ledDir } from '../devices/led/files.js';

export interface Sandbox {
  readonly deviceAllow: string[];
  readonly readWritePaths: string[];
  /** Devices the drop-in cannot cover, with why (plug-in kinds). */
  readonly notes: string[];
}

export type Resolve = (p: string) => string | undefined;

const realpath: Resolve = (p) => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

/** USB serial adapters get a new minor when replugged: allow their class, not one node. */
const HOTPLUG_TTY = /^tty(USB|ACM)\d+$/;

function option(d: ResolvedDevice, key: string): string | undefined {
  const v = (d.options as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v : undefined;
}

function add(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}

export function sandboxFor(devices: readonly ResolvedDevice[], resolve: Resolve = realpath): Sandbox {
  const deviceAllow: string[] = [];
  const readWritePaths: string[] = [];
  const notes: string[] = [];
  for (const d of devices) {
    if (d.sim) continue;
    switch (d.kind) {
      case 'led': {
        const dir = ledDir(option(d, 'sysfsRoot') ?? '/sys', option(d, 'name') ?? '');
        // '-': a missing LED must not keep the service from starting (the agent retries it).
        add(readWritePaths, `-${resolve(dir) ?? dir}`);
        break;
      }
      case 'gpio': {
        if (option(d, 'interface') === 'sysfs') {
          const root = option(d, 'sysfsRoot') ?? '/sys';
          // export/unexport, then the exported gpioN directory, which lives under the chip's platform device.
          add(readWritePaths, `-${path.join(root, 'class', 'gpio')}`);
          add(readWritePaths, `-${path.join(root, 'devices', 'platform')}`);
          notes.push(`${d.id}: legacy sysfs GPIO needs /sys/devices/platform writable; prefer the character device`);
          break;
        }
        const chip = chipPath(option(d, 'chip') ?? 'gpiochip0');
        add(deviceAllow, chip ? `${chip} rw` : 'char-gpiochip rw');
        break;
      }
      case 'serial': {
        const p = option(d, 'path');
        if (!p) break;
        const node = resolve(p) ?? p;
        add(
          deviceAllow,
          HOTPLUG_TTY.test(path.basename(node)) || p.startsWith('/dev/serial/')
            ? `char-${path.basename(node).replace(/\d+$/, '')} rw`
            : `${p} rw`,
        );
        break;
      }
      case 'tape': {
        const p = option(d, 'path');
        if (p) add(deviceAllow, `${p} rw`);
        break;
      }
      default:
        notes.push(`${d.id}: kind '${d.kind}' is a plug-in; add what it opens with systemctl edit dev2mqtt`);
    }
  }
  return { deviceAllow, readWritePaths, notes };
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
  ];
  return `${lines.join('\n')}\n`;
}
