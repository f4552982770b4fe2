/**
 * The ABI facts that change a struct's bytes or a request's number from one
 * Linux architecture to another. Everything that encodes a struct or computes
 * an ioctl request takes an Arch, so `--arch armhf` on an x86_64 laptop prints
 * what a 32-bit Raspberry Pi would use.
 */
import os from 'node:os';

/** How `_IOC()` lays out a request (asm-generic/ioctl.h vs the arches that override it). */
export type IocLayout = 'generic' | 'mips' | 'powerpc' | 'sparc';
/** Which asm/ioctls.h + asm/termbits.h family the tty requests and termios flags come from. */
export type TtyFamily = 'generic' | 'mips' | 'powerpc' | 'sparc';

export interface Arch {
  readonly name: ArchName;
  readonly longSize: 4 | 8;
  readonly pointerSize: 4 | 8;
  /** Alignment of a plain 64-bit integer inside a struct (4 on i386: the talk's trap). */
  readonly int64Align: 4 | 8;
  readonly littleEndian: boolean;
  readonly ioc: IocLayout;
  readonly tty: TtyFamily;
  /** `__kernel_daddr_t` (mtget.mt_fileno/mt_blkno): `long` on mips, `int` elsewhere. */
  readonly daddrIsLong: boolean;
  readonly aliases: readonly string[];
}

export const ARCH_NAMES = [
  'x86_64',
  'i386',
  'aarch64',
  'armhf',
  'riscv64',
  'mips',
  'mipsel',
  'mips64el',
  'ppc64',
  'ppc64le',
  'sparc64',
] as const;
export type ArchName = (typeof ARCH_NAMES)[number];

const lp64 = { longSize: 8, pointerSize: 8, int64Align: 8 } as const;
const ilp32 = { longSize: 4, pointerSize: 4, int64Align: 8 } as const;

const ARCHES: Record<ArchName, Arch> = {
  x86_64: { name: 'x86_64', ...lp64, littleEndian: true, ioc: 'generic', tty: 'generic', daddrIsLong: false, aliases: ['x64', 'amd64'] },
  i386: {
    name: 'i386',
    ...ilp32,
    int64Align: 4,
    littleEndian: true,
    ioc: 'generic',
    tty: 'generic',
    daddrIsLong: false,
    aliases: ['ia32', 'x86', 'i686'],
  },
  aarch64: { name: 'aarch64', ...lp64, littleEndian: true, ioc: 'generic', tty: 'generic', daddrIsLong: false, aliases: ['arm64'] },
  // 32-bit Raspberry Pi OS: EABI aligns 64-bit integers to 8 even though long is 4.
  armhf: {
    name: 'armhf',
    ...ilp32,
    littleEndian: true,
    ioc: 'generic',
    tty: 'generic',
    daddrIsLong: false,
    aliases: ['arm', 'armv7l', 'armv6l', 'armel'],
  },
  riscv64: { name: 'riscv64', ...lp64, littleEndian: true, ioc: 'generic', tty: 'generic', daddrIsLong: false, aliases: [] },
  mips: { name: 'mips', ...ilp32, littleEndian: false, ioc: 'mips', tty: 'mips', daddrIsLong: true, aliases: [] },
  mipsel: { name: 'mipsel', ...ilp32, littleEndian: true, ioc: 'mips', tty: 'mips', daddrIsLong: true, aliases: [] },
  mips64el: { name: 'mips64el', ...lp64, littleEndian: true, ioc: 'mips', tty: 'mips', daddrIsLong: true, aliases: ['mips64'] },
  ppc64: { name: 'ppc64', ...lp64, littleEndian: false, ioc: 'powerpc', tty: 'powerpc', daddrIsLong: false, aliases: ['powerpc64'] },
  ppc64le: { name: 'ppc64le', ...lp64, littleEndian: true, ioc: 'powerpc', tty: 'powerpc', daddrIsLong: false, aliases: ['powerpc64le'] },
  sparc64: { name: 'sparc64', ...lp64, littleEndian: false, ioc: 'sparc', tty: 'sparc', daddrIsLong: false, aliases: ['sparc'] },
};

export function allArches(): Arch[] {
  return ARCH_NAMES.map((n) => ARCHES[n]);
}

/** Looks an arch up by its name or a common alias (`arm64`, `x64`, `arm` …). */
export function findArch(name: string): Arch | undefined {
  const wanted = name.trim().toLowerCase();
  return allArches().find((a) => a.name === wanted || a.aliases.includes(wanted));
}

export function archByName(name: string): Arch {
  const arch = findArch(name);
  if (!arch) {
    throw new RangeError(`unknown architecture '${name}' (known: ${ARCH_NAMES.join(', ')})`);
  }
  return arch;
}

/**
 * The kernel's own ABI (uname's machine), which is not always the process's:
 * 32-bit Raspberry Pi OS runs an arm64 kernel on a Pi 4 or 5, so an armhf
 * process there talks to a kernel whose `long` is 8 bytes. What the kernel
 * keeps in its own `unsigned long` (network counters) has the kernel's width.
 * A 32-bit process in a PER_LINUX32 personality (an armhf container on an
 * arm64 kernel) is told `armv8l` (`armv8b`): only arm64's compat uname says
 * that, a 32-bit ARM kernel says armv7l on the same CPU. A machine name
 * without a table here falls back to the process's ABI.
 */
export function kernelArch(machine: string = os.machine()): Arch {
  if (/^armv8[lb]$/.test(machine.trim())) return ARCHES.aarch64;
  return findArch(machine) ?? hostArch();
}

/** The ABI of this Node.js process. */
export function hostArch(): Arch {
  const le = os.endianness() === 'LE';
  const nodeArch: string = process.arch;
  switch (nodeArch) {
    case 'x64':
      return ARCHES.x86_64;
    case 'ia32':
      return ARCHES.i386;
    case 'arm64':
      return ARCHES.aarch64;
    case 'arm':
      return ARCHES.armhf;
    case 'riscv64':
      return ARCHES.riscv64;
    case 'mips':
      return ARCHES.mips;
    case 'mipsel':
      return ARCHES.mipsel;
    case 'mips64el':
      return ARCHES.mips64el;
    case 'ppc64':
      return le ? ARCHES.ppc64le : ARCHES.ppc64;
    default:
      throw new RangeError(`dev2mqtt has no ABI table for process.arch '${process.arch}'`);
  }
}
