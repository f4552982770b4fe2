/**
 * The node's own device block: what a Raspberry Pi's device tree and
 * /proc/cpuinfo say (a recorded tree on disk, and the same through the sim
 * trees of the sysfs seam), and nothing where they say nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNodeHardware } from '../../src/homeassistant/node-hardware.js';
import { FsSysfs } from '../../src/kernel/sysfs-fs.js';
import { SimSysfs } from '../../src/kernel/sysfs-sim.js';
import { tempDir } from '../helpers/agent.js';

const CPUINFO =
  'processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000a1b2c3d4\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n';

const onDisk = (root: string): { sysfs: FsSysfs; procfs: FsSysfs } => ({
  sysfs: new FsSysfs(path.join(root, 'sys')),
  procfs: new FsSysfs(path.join(root, 'proc'), { toEof: true }),
});

describe('node hardware', () => {
  it("reads a Pi's model and serial from the device tree and its revision from cpuinfo", async () => {
    const root = tempDir('dev2mqtt-pi-');
    const dt = path.join(root, 'sys/firmware/devicetree/base');
    mkdirSync(dt, { recursive: true });
    writeFileSync(path.join(dt, 'model'), 'Raspberry Pi 4 Model B Rev 1.4\0');
    writeFileSync(path.join(dt, 'serial-number'), '10000000a1b2c3d4\0');
    mkdirSync(path.join(root, 'proc'));
    writeFileSync(path.join(root, 'proc/cpuinfo'), CPUINFO);
    expect(await readNodeHardware(onDisk(root))).toEqual({
      model: 'Raspberry Pi 4 Model B Rev 1.4',
      serialNumber: '10000000a1b2c3d4',
      hwVersion: 'c03114',
    });
  });

  it('says nothing on a machine without a device tree', async () => {
    expect(await readNodeHardware(onDisk(tempDir('dev2mqtt-pc-')))).toEqual({});
  });

  it('reads through the sysfs seam: sim trees answer as the kernel does, an unreadable property is left out', async () => {
    const sysfs = new SimSysfs('/sys');
    const procfs = new SimSysfs('/proc');
    // A `compatible`-style list of NUL-terminated strings, and a serial the service may not read.
    sysfs.file('firmware/devicetree/base/model', 'Raspberry Pi Compute Module 4\0Rev 1.1\0');
    sysfs.file('firmware/devicetree/base/serial-number', '10000000a1b2c3d4\0');
    sysfs.deny('firmware/devicetree/base/serial-number', 'EACCES');
    procfs.file('cpuinfo', CPUINFO.replace('c03114', 'b03141'));
    expect(await readNodeHardware({ sysfs, procfs })).toEqual({ model: 'Raspberry Pi Compute Module 4 Rev 1.1', hwVersion: 'b03141' });
    sysfs.deny('firmware/devicetree/base/serial-number', undefined);
    expect(await readNodeHardware({ sysfs, procfs })).toMatchObject({ serialNumber: '10000000a1b2c3d4' });
  });
});
