/**
 * The drive's identity from sysfs (a recorded tree: an LTO-5 drive behind
 * /sys/class/scsi_tape/nst0), followed through a by-id link, and what Home
 * Assistant's device block makes of it.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tapeKind } from '../../../src/devices/tape/kind.js';
import { readTapeIdentity, unitSerial } from '../../../src/devices/tape/identity.js';
import { declarationOf } from '../../../src/homeassistant/entities.js';
import { FsSysfs } from '../../../src/kernel/sysfs-fs.js';
import { tempDir } from '../../helpers/agent.js';

/** VPD page 0x80 as the kernel exposes it: peripheral byte, page code, length, the serial number. */
function page80(serial: string): Buffer {
  const body = Buffer.from(serial, 'latin1');
  return Buffer.concat([Buffer.from([0x01, 0x80, 0x00, body.length]), body]);
}

function tree(): { sysfs: FsSysfs; dev: string } {
  const root = tempDir('dev2mqtt-tape-sysfs-');
  const sysfs = path.join(root, 'sys');
  const device = path.join(sysfs, 'devices/pci0000:00/host2/target2:0:3/2:0:3:0');
  mkdirSync(device, { recursive: true });
  writeFileSync(path.join(device, 'vendor'), 'HP      \n');
  writeFileSync(path.join(device, 'model'), 'Ultrium 5-SCSI  \n');
  writeFileSync(path.join(device, 'rev'), 'Z6ED\n');
  writeFileSync(path.join(device, 'vpd_pg80'), page80('HU1234ABCD'));
  mkdirSync(path.join(sysfs, 'class/scsi_tape/nst0'), { recursive: true });
  symlinkSync(device, path.join(sysfs, 'class/scsi_tape/nst0/device'));
  const dev = path.join(root, 'dev');
  mkdirSync(path.join(dev, 'tape/by-id'), { recursive: true });
  writeFileSync(path.join(dev, 'nst0'), '');
  symlinkSync('../../nst0', path.join(dev, 'tape/by-id/scsi-HU1234ABCD-nst'));
  return { sysfs: new FsSysfs(sysfs), dev };
}

describe('tape: identity from sysfs', () => {
  it('reads vendor, model, revision and the unit serial number, also through a by-id link', async () => {
    const { sysfs, dev } = tree();
    const expected = { vendor: 'HP', model: 'Ultrium 5-SCSI', revision: 'Z6ED', serial: 'HU1234ABCD' };
    expect(await readTapeIdentity(sysfs, path.join(dev, 'nst0'))).toEqual(expected);
    expect(await readTapeIdentity(sysfs, path.join(dev, 'tape/by-id/scsi-HU1234ABCD-nst'))).toEqual(expected);
  });

  it('tells nothing about a drive sysfs does not know, and takes no other page for the serial', async () => {
    const { sysfs } = tree();
    expect(await readTapeIdentity(sysfs, '/dev/nst7')).toEqual({});
    expect(unitSerial(Buffer.from([0x01, 0x83, 0x00, 0x02, 0x41, 0x42]))).toBeUndefined();
    expect(unitSerial(Buffer.from([0x01]))).toBeUndefined();
  });

  it("gives Home Assistant the drive's manufacturer, model, firmware and serial number", () => {
    const topics = { state: 's', event: 'e', availability: 'a', command: (n: string) => `cmd/${n}` };
    const identity = { vendor: 'HP', model: 'Ultrium 5-SCSI', revision: 'Z6ED', serial: 'HU1234ABCD' };
    const d = declarationOf(tapeKind.homeassistant!({ id: 't', name: 't', options: {} as never, sim: false, topics, state: { identity } }));
    expect(d.hardware).toEqual({ manufacturer: 'HP', model: 'Ultrium 5-SCSI', hwVersion: 'Z6ED', serialNumber: 'HU1234ABCD' });
  });
});
