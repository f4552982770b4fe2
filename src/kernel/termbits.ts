/**
 * termios flag bits per asm/termbits.h family. Only what raw mode, line
 * settings and arbitrary speeds (BOTHER) need; values differ on powerpc and,
 * for a few, on mips and sparc.
 */
import type { Arch, TtyFamily } from './arch.js';

export interface TermBits {
  // c_iflag
  readonly IGNBRK: number;
  readonly BRKINT: number;
  readonly IGNPAR: number;
  readonly PARMRK: number;
  readonly INPCK: number;
  readonly ISTRIP: number;
  readonly INLCR: number;
  readonly IGNCR: number;
  readonly ICRNL: number;
  readonly IXON: number;
  readonly IXOFF: number;
  readonly IXANY: number;
  // c_oflag
  readonly OPOST: number;
  // c_lflag
  readonly ISIG: number;
  readonly ICANON: number;
  readonly ECHO: number;
  readonly ECHOE: number;
  readonly ECHOK: number;
  readonly ECHONL: number;
  readonly IEXTEN: number;
  // c_cflag
  readonly CBAUD: number;
  readonly CIBAUD: number;
  readonly BOTHER: number;
  readonly CSIZE: number;
  readonly CS5: number;
  readonly CS6: number;
  readonly CS7: number;
  readonly CS8: number;
  readonly CSTOPB: number;
  readonly CREAD: number;
  readonly PARENB: number;
  readonly PARODD: number;
  readonly HUPCL: number;
  readonly CLOCAL: number;
  readonly CMSPAR: number;
  readonly CRTSCTS: number;
  readonly IBSHIFT: number;
  // c_cc indices (in the termios2 the kernel reads)
  readonly VMIN: number;
  readonly VTIME: number;
}

/** asm-generic/termbits-common.h: shared by every family. */
const COMMON = {
  IGNBRK: 0x001,
  BRKINT: 0x002,
  IGNPAR: 0x004,
  PARMRK: 0x008,
  INPCK: 0x010,
  ISTRIP: 0x020,
  INLCR: 0x040,
  IGNCR: 0x080,
  ICRNL: 0x100,
  IXANY: 0x800,
  OPOST: 0x01,
  CMSPAR: 0x40000000,
  CRTSCTS: 0x80000000,
  IBSHIFT: 16,
} as const;

/** asm-generic/termbits.h: also mips and sparc for c_cflag. */
const CFLAG_GENERIC = {
  CBAUD: 0x0000100f,
  CIBAUD: 0x100f0000,
  BOTHER: 0x1000,
  CSIZE: 0x30,
  CS5: 0,
  CS6: 0x10,
  CS7: 0x20,
  CS8: 0x30,
  CSTOPB: 0x40,
  CREAD: 0x80,
  PARENB: 0x100,
  PARODD: 0x200,
  HUPCL: 0x400,
  CLOCAL: 0x800,
} as const;

const FAMILIES: Record<TtyFamily, TermBits> = {
  generic: {
    ...COMMON,
    ...CFLAG_GENERIC,
    IXON: 0x400,
    IXOFF: 0x1000,
    ISIG: 0x1,
    ICANON: 0x2,
    ECHO: 0x8,
    ECHOE: 0x10,
    ECHOK: 0x20,
    ECHONL: 0x40,
    IEXTEN: 0x8000,
    VTIME: 5,
    VMIN: 6,
  },
  mips: {
    ...COMMON,
    ...CFLAG_GENERIC,
    IXON: 0x400,
    IXOFF: 0x1000,
    ISIG: 0x1,
    ICANON: 0x2,
    ECHO: 0x8,
    ECHOE: 0x10,
    ECHOK: 0x20,
    ECHONL: 0x40,
    IEXTEN: 0x100,
    VMIN: 4,
    VTIME: 5,
  },
  powerpc: {
    ...COMMON,
    IXON: 0x200,
    IXOFF: 0x400,
    ISIG: 0x80,
    ICANON: 0x100,
    ECHO: 0x8,
    ECHOE: 0x2,
    ECHOK: 0x4,
    ECHONL: 0x10,
    IEXTEN: 0x400,
    CBAUD: 0xff,
    CIBAUD: 0xff0000,
    BOTHER: 0x1f,
    CSIZE: 0x300,
    CS5: 0,
    CS6: 0x100,
    CS7: 0x200,
    CS8: 0x300,
    CSTOPB: 0x400,
    CREAD: 0x800,
    PARENB: 0x1000,
    PARODD: 0x2000,
    HUPCL: 0x4000,
    CLOCAL: 0x8000,
    VMIN: 5,
    VTIME: 7,
  },
  sparc: {
    ...COMMON,
    ...CFLAG_GENERIC,
    IXON: 0x400,
    IXOFF: 0x1000,
    ISIG: 0x1,
    ICANON: 0x2,
    ECHO: 0x8,
    ECHOE: 0x10,
    ECHOK: 0x20,
    ECHONL: 0x40,
    IEXTEN: 0x8000,
    // The kernel keeps vmin/vtime in the two extra slots of termios2's c_cc[NCCS+2].
    VMIN: 16,
    VTIME: 17,
  },
};

export function termBits(arch: Arch): TermBits {
  return FAMILIES[arch.tty];
}

/**
 * VMIN/VTIME in the plain `struct termios` of TCGETS/TCSETS: the slots of
 * termios2 everywhere but sparc, whose user termios shares them with
 * VEOF/VEOL (4 and 5) and only termios2 gives them slots of their own.
 */
export function plainTermiosCc(arch: Arch): { readonly VMIN: number; readonly VTIME: number } {
  return arch.tty === 'sparc' ? { VMIN: 4, VTIME: 5 } : FAMILIES[arch.tty];
}

export interface ModemBits {
  readonly LE: number;
  readonly DTR: number;
  readonly RTS: number;
  readonly ST: number;
  readonly SR: number;
  readonly CTS: number;
  readonly CAR: number;
  readonly RNG: number;
  readonly DSR: number;
  readonly CD: number;
  readonly RI: number;
}

const TIOCM_GENERIC: ModemBits = {
  LE: 0x001,
  DTR: 0x002,
  RTS: 0x004,
  ST: 0x008,
  SR: 0x010,
  CTS: 0x020,
  CAR: 0x040,
  RNG: 0x080,
  DSR: 0x100,
  CD: 0x040,
  RI: 0x080,
};

/** mips numbers the modem lines its own way (arch/mips/include/uapi/asm/termios.h). */
const TIOCM_MIPS: ModemBits = {
  LE: 0x001,
  DTR: 0x002,
  RTS: 0x004,
  ST: 0x010,
  SR: 0x020,
  CTS: 0x040,
  CAR: 0x100,
  RNG: 0x200,
  DSR: 0x400,
  CD: 0x100,
  RI: 0x200,
};

/** TIOCM_* modem line bits for TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC/TIOCMIWAIT. */
export function modemBits(arch: Arch): ModemBits {
  return arch.tty === 'mips' ? TIOCM_MIPS : TIOCM_GENERIC;
}

/** TCFLSH queue selectors. */
export const TCFLUSH = { IN: 0, OUT: 1, BOTH: 2 } as const;

/**
 * The Bnnn constants: standard rates encoded in c_cflag's CBAUD bits, so that
 * `stty`, `tcgetattr` and drivers without BOTHER support see them. Anything
 * else goes through BOTHER with c_ispeed/c_ospeed. The low rates (B0..B38400)
 * are asm-generic/termbits-common.h and shared by every family; above 38400
 * each family numbers its own (asm/termbits.h).
 */
const BAUD_COMMON: ReadonlyArray<readonly [number, number]> = [
  [0, 0x0],
  [50, 0x1],
  [75, 0x2],
  [110, 0x3],
  [134, 0x4],
  [150, 0x5],
  [200, 0x6],
  [300, 0x7],
  [600, 0x8],
  [1200, 0x9],
  [1800, 0xa],
  [2400, 0xb],
  [4800, 0xc],
  [9600, 0xd],
  [19200, 0xe],
  [38400, 0xf],
];

/** asm-generic and mips: CBAUDEX (0x1000) plus 1..15. */
const BAUD_HIGH_GENERIC: ReadonlyArray<readonly [number, number]> = [
  [57600, 0x1001],
  [115200, 0x1002],
  [230400, 0x1003],
  [460800, 0x1004],
  [500000, 0x1005],
  [576000, 0x1006],
  [921600, 0x1007],
  [1000000, 0x1008],
  [1152000, 0x1009],
  [1500000, 0x100a],
  [2000000, 0x100b],
  [2500000, 0x100c],
  [3000000, 0x100d],
  [3500000, 0x100e],
  [4000000, 0x100f],
];

/** powerpc: no CBAUDEX bit, the high rates continue at 0x10 (BOTHER is 0x1f). */
const BAUD_HIGH_POWERPC: ReadonlyArray<readonly [number, number]> = [
  [57600, 0x10],
  [115200, 0x11],
  [230400, 0x12],
  [460800, 0x13],
  [500000, 0x14],
  [576000, 0x15],
  [921600, 0x16],
  [1000000, 0x17],
  [1152000, 0x18],
  [1500000, 0x19],
  [2000000, 0x1a],
  [2500000, 0x1b],
  [3000000, 0x1c],
  [3500000, 0x1d],
  [4000000, 0x1e],
];

/**
 * sparc keeps the CBAUDEX layout but numbers it its own way, with 76800,
 * 153600, 307200 and 614400 and without 2.5–4 Mbit/s (commented out in its header).
 */
const BAUD_HIGH_SPARC: ReadonlyArray<readonly [number, number]> = [
  [57600, 0x1001],
  [115200, 0x1002],
  [230400, 0x1003],
  [460800, 0x1004],
  [76800, 0x1005],
  [153600, 0x1006],
  [307200, 0x1007],
  [614400, 0x1008],
  [921600, 0x1009],
  [500000, 0x100a],
  [576000, 0x100b],
  [1000000, 0x100c],
  [1152000, 0x100d],
  [1500000, 0x100e],
  [2000000, 0x100f],
];

const BAUD_TABLES: Record<TtyFamily, ReadonlyMap<number, number>> = {
  generic: new Map([...BAUD_COMMON, ...BAUD_HIGH_GENERIC]),
  mips: new Map([...BAUD_COMMON, ...BAUD_HIGH_GENERIC]),
  powerpc: new Map([...BAUD_COMMON, ...BAUD_HIGH_POWERPC]),
  sparc: new Map([...BAUD_COMMON, ...BAUD_HIGH_SPARC]),
};

/** Rate (bit/s) → its Bnnn constant for `arch`; a rate without one needs BOTHER. */
export function baudConstants(arch: Arch): ReadonlyMap<number, number> {
  return BAUD_TABLES[arch.tty];
}

/** Bnnn constant → its rate (bit/s) for `arch`; undefined for BOTHER or bits no table has. */
export function baudOfBits(arch: Arch, bits: number): number | undefined {
  for (const [rate, b] of BAUD_TABLES[arch.tty]) if (b === bits) return rate;
  return undefined;
}
