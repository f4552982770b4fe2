/**
 * What the drive says it is, from sysfs: the SCSI device behind
 * /sys/class/scsi_tape/nstN has `vendor`, `model` and `rev` (INQUIRY, space
 * padded) and, where the drive offers it, `vpd_pg80`: the Unit Serial Number
 * VPD page (4 header bytes, then the serial number in ASCII; SPC-4 7.8.18).
 * A by-id link (/dev/tape/by-id/…-nst) is followed to its nstN first.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Sysfs } from '../../kernel/sysfs.js';

export interface TapeIdentity {
  readonly vendor?: string;
  readonly model?: string;
  readonly revision?: string;
  readonly serial?: string;
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

/** Whatever of it sysfs has: a missing or unreadable attribute tells nothing, and fails nothing. */
export async function readTapeIdentity(sysfs: Sysfs, devicePath: string): Promise<TapeIdentity> {
  // The device node's name says which nstN; a by-id link resolves to it (not there yet: the name as configured).
  const node = await realpath(devicePath).catch(() => devicePath);
  const dir = `class/scsi_tape/${path.basename(node)}/device`;
  const text = (attr: string): Promise<string | undefined> =>
    sysfs.value(`${dir}/${attr}`).then(
      (v) => v || undefined,
      () => undefined,
    );
  const [vendor, model, revision, serial] = await Promise.all([
    text('vendor'),
    text('model'),
    text('rev'),
    sysfs.bytes(`${dir}/vpd_pg80`).then(unitSerial, () => undefined),
  ]);
  return {
    ...(vendor ? { vendor } : {}),
    ...(model ? { model } : {}),
    ...(revision ? { revision } : {}),
    ...(serial ? { serial } : {}),
  };
}
