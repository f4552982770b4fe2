/**
 * What the drive says it is, from sysfs: the SCSI device behind
 * /sys/class/scsi_tape/nstN has `vendor`, `model` and `rev` (INQUIRY, space
 * padded) and, where the drive offers it, `vpd_pg80`: the Unit Serial Number
 * VPD page (4 header bytes, then the serial number in ASCII; SPC-4 7.8.18).
 * A by-id link (/dev/tape/by-id/…-nst) is followed to its nstN first.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface TapeIdentity {
  readonly vendor?: string;
  readonly model?: string;
  readonly revision?: string;
  readonly serial?: string;
}

function text(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The serial number of a VPD page 0x80, or undefined when the page is missing or not that page. */
export function unitSerial(page: Buffer): string | undefined {
  if (page.length < 4 || page[1] !== 0x80) return undefined;
  const length = page.readUInt16BE(2);
  const serial = page
    .subarray(4, 4 + length)
    .toString('latin1')
    .replace(/\0/g, '')
    .trim();
  return serial || undefined;
}

export function readTapeIdentity(sysfsRoot: string, devicePath: string): TapeIdentity {
  let node = devicePath;
  try {
    node = realpathSync(devicePath);
  } catch {
    // Not there (yet): the name as configured still says which drive.
  }
  const dir = path.join(sysfsRoot, 'class/scsi_tape', path.basename(node), 'device');
  let serial: string | undefined;
  try {
    serial = unitSerial(readFileSync(path.join(dir, 'vpd_pg80')));
  } catch {
    serial = undefined;
  }
  const vendor = text(path.join(dir, 'vendor'));
  const model = text(path.join(dir, 'model'));
  const revision = text(path.join(dir, 'rev'));
  return {
    ...(vendor ? { vendor } : {}),
    ...(model ? { model } : {}),
    ...(revision ? { revision } : {}),
    ...(serial ? { serial } : {}),
  };
}
