/**
 * What the machine says about itself, for the node's Home Assistant device:
 * the device tree's `model` and `serial-number` (a Raspberry Pi: "Raspberry
 * Pi 4 Model B Rev 1.4", its board serial) and the board revision code from
 * /proc/cpuinfo (`Revision : c03114`). Machines without a device tree (a PC,
 * a VM) tell nothing here, and the node keeps its generic model.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HaHardware } from './entities.js';

export interface HardwareRoots {
  /** Where sysfs is mounted (tests: a recorded tree). */
  readonly sysfsRoot: string;
  readonly procRoot: string;
}

/** A device-tree string property: NUL-terminated, sometimes padded. */
function deviceTreeString(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ').trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

function cpuinfoField(file: string, field: string): string | undefined {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[0]?.trim() === field);
    const value = line?.slice(line.indexOf(':') + 1).trim();
    return value || undefined;
  } catch {
    return undefined;
  }
}

export function readNodeHardware(roots: HardwareRoots = { sysfsRoot: '/sys', procRoot: '/proc' }): HaHardware {
  const dt = path.join(roots.sysfsRoot, 'firmware/devicetree/base');
  const model = deviceTreeString(path.join(dt, 'model'));
  const serialNumber = deviceTreeString(path.join(dt, 'serial-number'));
  const hwVersion = cpuinfoField(path.join(roots.procRoot, 'cpuinfo'), 'Revision');
  return {
    ...(model ? { model } : {}),
    ...(serialNumber ? { serialNumber } : {}),
    ...(hwVersion ? { hwVersion } : {}),
  };
}
