/**
 * linux/mtio.h in TypeScript: the MTIOCTOP operation codes, the GMT_* status
 * bits of `mt_gstat`, the `mt_dsreg` fields, and the decoding of a `struct
 * mtget` into the status a user reads. Both the tape kind and the st model
 * use these, so they agree on every bit by construction; the values are the
 * header's (every one is in mtioConstants(), which test/kernel/c-abi.ts holds
 * to linux/mtio.h with gcc on each architecture).
 */
import type { MtGet } from '../../kernel/structs.js';

/** `mtop.mt_op` values. */
export const MT = {
  RESET: 0,
  FSF: 1,
  BSF: 2,
  FSR: 3,
  BSR: 4,
  WEOF: 5,
  REW: 6,
  OFFL: 7,
  NOP: 8,
  RETEN: 9,
  BSFM: 10,
  FSFM: 11,
  EOM: 12,
  ERASE: 13,
  RAS1: 14,
  RAS2: 15,
  RAS3: 16,
  SETBLK: 20,
  SETDENSITY: 21,
  SEEK: 22,
  TELL: 23,
  SETDRVBUFFER: 24,
  FSS: 25,
  BSS: 26,
  WSM: 27,
  LOCK: 28,
  UNLOCK: 29,
  LOAD: 30,
  UNLOAD: 31,
  COMPRESSION: 32,
  SETPART: 33,
  MKPART: 34,
  WEOFI: 35,
} as const;
export type MtOpName = keyof typeof MT;

const OP_NAMES = new Map<number, MtOpName>(Object.entries(MT).map(([k, v]) => [v, k as MtOpName]));

/** `MTREW` for 6, `MT?` with the number for anything the header does not name. */
export function mtOpName(op: number): string {
  const n = OP_NAMES.get(op);
  return n ? `MT${n}` : `MT?${op}`;
}

/** `mt_gstat` bits (the GMT_* macros). */
export const GMT = {
  EOF: 0x80000000,
  BOT: 0x40000000,
  EOT: 0x20000000,
  SM: 0x10000000,
  EOD: 0x08000000,
  WR_PROT: 0x04000000,
  ONLINE: 0x01000000,
  D_6250: 0x00800000,
  D_1600: 0x00400000,
  D_800: 0x00200000,
  DR_OPEN: 0x00040000,
  IM_REP_EN: 0x00010000,
  CLN: 0x00008000,
} as const;

export const MT_ST_BLKSIZE_MASK = 0xffffff;
export const MT_ST_DENSITY_SHIFT = 24;
export const MT_ST_SOFTERR_MASK = 0xffff;

/** `mt_type` values a SCSI tape reports (st sets SCSI-1 or SCSI-2 from the device's SCSI level). */
export const MT_ISSCSI1 = 0x71;
export const MT_ISSCSI2 = 0x72;

/** Every constant above as C spells it (a GMT_ macro applied to all bits), for the header check. */
export function mtioConstants(): Array<[string, number]> {
  return [
    ...Object.entries(MT).map(([k, v]): [string, number] => [`MT${k}`, v]),
    ...Object.entries(GMT).map(([k, v]): [string, number] => [`GMT_${k}(0xffffffffUL)`, v]),
    ['MT_ST_BLKSIZE_MASK', MT_ST_BLKSIZE_MASK],
    ['MT_ST_DENSITY_SHIFT', MT_ST_DENSITY_SHIFT],
    ['MT_ST_SOFTERR_MASK', MT_ST_SOFTERR_MASK],
    ['MT_ISSCSI1', MT_ISSCSI1],
    ['MT_ISSCSI2', MT_ISSCSI2],
  ];
}

/**
 * Density codes of common drives (SSC density codes, as `mt status` names
 * them). A code not listed is still reported as its number.
 */
const DENSITY_NAMES: Readonly<Record<number, string>> = {
  0x00: 'default',
  0x13: 'DDS (61000 bpi)',
  0x24: 'DDS-2',
  0x25: 'DDS-3',
  0x26: 'DDS-4',
  0x40: 'LTO-1',
  0x42: 'LTO-2',
  0x44: 'LTO-3',
  0x46: 'LTO-4',
  0x58: 'LTO-5',
  0x5a: 'LTO-6',
  0x5c: 'LTO-7',
  0x5d: 'LTO-7 M8',
  0x5e: 'LTO-8',
  0x60: 'LTO-9',
};

export function densityName(code: number): string | null {
  return DENSITY_NAMES[code] ?? null;
}

export function driveTypeName(mtType: number): string {
  if (mtType === MT_ISSCSI2) return 'SCSI-2';
  if (mtType === MT_ISSCSI1) return 'SCSI-1';
  return `type 0x${mtType.toString(16)}`;
}

/** What MTIOCGET says, decoded: the `mt status` of dev2mqtt. */
export interface TapeStatus {
  /** `SCSI-2` (MT_ISSCSI2) … */
  readonly driveType: string;
  readonly mtType: number;
  /** Density code from `mt_dsreg` bits 24–31. */
  readonly density: number;
  readonly densityName: string | null;
  /** Block size from `mt_dsreg` bits 0–23; 0 is variable-block mode. */
  readonly blockSize: number;
  /** -1 when st cannot know (after MTEOM, MTSEEK, errors). */
  readonly fileNumber: number;
  /** -1 when st cannot know (after MTBSF, MTSEEK, errors). */
  readonly blockNumber: number;
  /** `mt_resid & 0xff`: st puts the active partition there. */
  readonly partition: number;
  readonly bot: boolean;
  readonly eof: boolean;
  readonly eot: boolean;
  readonly eod: boolean;
  readonly sm: boolean;
  readonly writeProtected: boolean;
  readonly online: boolean;
  readonly doorOpen: boolean;
  readonly immReport: boolean;
  readonly cleaningRequested: boolean;
  /** Recovered errors since the previous MTIOCGET (`mt_erreg & 0xffff`). */
  readonly softErrors: number;
  /** The raw registers, for anything the fields above leave out. */
  readonly erreg: number;
  readonly gstat: number;
  readonly dsreg: number;
  readonly resid: number;
}

/** `long` members hold 32-bit masks: read them unsigned whether `long` is 4 or 8 bytes. */
const u32 = (n: number): number => n >>> 0;

export function decodeStatus(raw: MtGet): TapeStatus {
  const gstat = u32(raw.mt_gstat);
  const dsreg = u32(raw.mt_dsreg);
  const density = (dsreg >>> MT_ST_DENSITY_SHIFT) & 0xff;
  const has = (bit: number): boolean => (gstat & bit) !== 0;
  return {
    driveType: driveTypeName(raw.mt_type),
    mtType: raw.mt_type,
    density,
    densityName: densityName(density),
    blockSize: dsreg & MT_ST_BLKSIZE_MASK,
    fileNumber: raw.mt_fileno,
    blockNumber: raw.mt_blkno,
    partition: u32(raw.mt_resid) & 0xff,
    bot: has(GMT.BOT),
    eof: has(GMT.EOF),
    eot: has(GMT.EOT),
    eod: has(GMT.EOD),
    sm: has(GMT.SM),
    writeProtected: has(GMT.WR_PROT),
    online: has(GMT.ONLINE),
    doorOpen: has(GMT.DR_OPEN),
    immReport: has(GMT.IM_REP_EN),
    cleaningRequested: has(GMT.CLN),
    softErrors: u32(raw.mt_erreg) & MT_ST_SOFTERR_MASK,
    erreg: u32(raw.mt_erreg),
    gstat,
    dsreg,
    resid: raw.mt_resid,
  };
}

/** The GMT_* names that are set, in the order `mt status` prints them. */
export function gstatNames(gstat: number): string[] {
  return Object.entries(GMT)
    .filter(([, bit]) => (gstat & bit) !== 0)
    .map(([name]) => name);
}
