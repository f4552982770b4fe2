/**
 * What the machine says about itself, for the node's Home Assistant device:
 * the device tree's `model` and `serial-number` (a Raspberry Pi: "Raspberry
 * Pi 4 Model B Rev 1.4", its board serial) and the board revision code from
 * /proc/cpuinfo (`Revision : c03114`). Machines without a device tree (a PC,
 * a VM) tell nothing here, and the node keeps its generic model.
 *
 * Read through the same sysfs and procfs seam as the device kinds (real
 * trees in the agent, SimSysfs trees in tests), never with node:fs.
 */
import type { Sysfs } from '../kernel/sysfs.js';
import type { HaHardware } from './entities.js';

/** The trees to read: sysfs (`/sys`) and procfs (`/proc`), or recorded or sim ones. */
export interface HardwareTrees {
  readonly sysfs: Sysfs;
  readonly procfs: Sysfs;
}

/** A device-tree string property: NUL-terminated, sometimes padded; a list of strings joined by spaces. */
async function deviceTreeString(sysfs: Sysfs, rel: string): Promise<string | undefined> {
  try {
    const text = (await sysfs.bytes(rel)).toString('latin1').replace(/\0+$/, '').replace(/\0/g, ' ').trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

async function cpuinfoField(procfs: Sysfs, field: string): Promise<string | undefined> {
  try {
    const line = (await procfs.read('cpuinfo')).split('\n').find((l) => l.split(':')[0]?.trim() === field);
    const value = line?.slice(line.indexOf(':') + 1).trim();
    return value || undefined;
  } catch {
    return undefined;
  }
}

export async function readNodeHardware({ sysfs, procfs }: HardwareTrees): Promise<HaHardware> {
  const dt = 'firmware/devicetree/base';
  const model = await deviceTreeString(sysfs, `${dt}/model`);
  const serialNumber = await deviceTreeString(sysfs, `${dt}/serial-number`);
  const hwVersion = await cpuinfoField(procfs, 'Revision');
  return {
    ...(model ? { model } : {}),
    ...(serialNumber ? { serialNumber } : {}),
    ...(hwVersion ? { hwVersion } : {}),
  };
}
