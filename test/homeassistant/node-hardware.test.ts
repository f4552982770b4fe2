/**
 * The node's own device block: what a Raspberry Pi's device tree and
 * /proc/cpuinfo say (a recorded tree), and nothing where they say nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNodeHardware } from '../../src/homeassistant/node-hardware.js';
import { tempDir } from '../helpers/agent.js';

describe('node hardware', () => {
  it("reads a Pi's model and serial from the device tree and its revision from cpuinfo", () => {
    const root = tempDir('dev2mqtt-pi-');
    const dt = path.join(root, 'sys/firmware/devicetree/base');
    mkdirSync(dt, { recursive: true });
    writeFileSync(path.join(dt, 'model'), 'Raspberry Pi 4 Model B Rev 1.4\0');
    writeFileSync(path.join(dt, 'serial-number'), '10000000a1b2c3d4\0');
    mkdirSync(path.join(root, 'proc'));
    writeFileSync(
      path.join(root, 'proc/cpuinfo'),
      'processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000a1b2c3d4\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n',
    );
    expect(readNodeHardware({ sysfsRoot: path.join(root, 'sys'), procRoot: path.join(root, 'proc') })).toEqual({
      model: 'Raspberry Pi 4 Model B Rev 1.4',
      serialNumber: '10000000a1b2c3d4',
      hwVersion: 'c03114',
    });
  });

  it('says nothing on a machine without a device tree', () => {
    const root = tempDir('dev2mqtt-pc-');
    expect(readNodeHardware({ sysfsRoot: path.join(root, 'sys'), procRoot: path.join(root, 'proc') })).toEqual({});
  });
});
