/**
 * The catalogue: every ioctl request the device kinds use, by name, computed
 * for an architecture from the structs it carries. tty requests come from the
 * arch's asm/ioctls.h family, which is where mips, powerpc and sparc differ.
 */
import type { Arch, TtyFamily } from './arch.js';
import { sizeOf, type StructDef } from './ctypes.js';
import { decode, IO, IOR, IOW, IOWR, legacy, type DecodedRequest, type IocType } from './ioc.js';
import {
  gpio_v2_line_config,
  gpio_v2_line_info,
  gpio_v2_line_request,
  gpio_v2_line_values,
  gpiochip_info,
  mtget,
  mtop,
  mtpos,
  serial_icounter_struct,
  serial_struct,
  termios,
  termios2,
} from './structs.js';

/** What the argument of a request is, so callers and the raw passthrough know what to pass. */
export type ArgKind =
  | { readonly kind: 'none' }
  | { readonly kind: 'int' } // passed by value (TCFLSH's queue selector, TIOCMIWAIT's mask)
  | { readonly kind: 'int-pointer' } // a pointer to an int (TIOCMGET, FIONREAD)
  | { readonly kind: 'struct'; readonly struct: StructDef<object> };

export interface IoctlRequest extends DecodedRequest {
  readonly name: string;
  readonly arg: ArgKind;
  /** The header the definition comes from, for `ioctl list` and the C cross-check. */
  readonly header: string;
}

type Spec =
  | { readonly how: 'legacy'; readonly type: IocType; readonly nr: number; readonly arg: ArgKind }
  | { readonly how: 'io'; readonly type: IocType; readonly nr: number; readonly arg: ArgKind }
  | { readonly how: 'ior' | 'iow' | 'iowr'; readonly type: IocType; readonly nr: number; readonly arg: ArgKind };

const none: ArgKind = { kind: 'none' };
const int: ArgKind = { kind: 'int' };
const intPtr: ArgKind = { kind: 'int-pointer' };
const struct = (s: StructDef<object>): ArgKind => ({ kind: 'struct', struct: s });

const L = (type: IocType, nr: number, arg: ArgKind): Spec => ({ how: 'legacy', type, nr, arg });
const I = (type: IocType, nr: number, arg: ArgKind = none): Spec => ({ how: 'io', type, nr, arg });
const R = (type: IocType, nr: number, arg: ArgKind): Spec => ({ how: 'ior', type, nr, arg });
const W = (type: IocType, nr: number, arg: ArgKind): Spec => ({ how: 'iow', type, nr, arg });
const RW = (type: IocType, nr: number, arg: ArgKind): Spec => ({ how: 'iowr', type, nr, arg });

const GPIO = 0xb4;

/** linux/mtio.h and linux/gpio.h: the same on every arch (only the sizes and layout vary). */
const COMMON: Readonly<Record<string, Spec>> = {
  MTIOCTOP: W('m', 1, struct(mtop)),
  MTIOCGET: R('m', 2, struct(mtget)),
  MTIOCPOS: R('m', 3, struct(mtpos)),
  GPIO_GET_CHIPINFO_IOCTL: R(GPIO, 0x01, struct(gpiochip_info)),
  GPIO_V2_GET_LINEINFO_IOCTL: RW(GPIO, 0x05, struct(gpio_v2_line_info)),
  GPIO_V2_GET_LINEINFO_WATCH_IOCTL: RW(GPIO, 0x06, struct(gpio_v2_line_info)),
  GPIO_V2_GET_LINE_IOCTL: RW(GPIO, 0x07, struct(gpio_v2_line_request)),
  GPIO_GET_LINEINFO_UNWATCH_IOCTL: RW(GPIO, 0x0c, { kind: 'int-pointer' }),
  GPIO_V2_LINE_SET_CONFIG_IOCTL: RW(GPIO, 0x0d, struct(gpio_v2_line_config)),
  GPIO_V2_LINE_GET_VALUES_IOCTL: RW(GPIO, 0x0e, struct(gpio_v2_line_values)),
  GPIO_V2_LINE_SET_VALUES_IOCTL: RW(GPIO, 0x0f, struct(gpio_v2_line_values)),
};

/** asm-generic/ioctls.h (x86, arm, arm64, riscv …). */
const TTY_GENERIC: Readonly<Record<string, Spec>> = {
  TCGETS: L('T', 0x01, struct(termios)),
  TCSETS: L('T', 0x02, struct(termios)),
  TCSETSW: L('T', 0x03, struct(termios)),
  TCSETSF: L('T', 0x04, struct(termios)),
  TCSBRK: L('T', 0x09, int),
  TCFLSH: L('T', 0x0b, int),
  TIOCEXCL: L('T', 0x0c, none),
  TIOCNXCL: L('T', 0x0d, none),
  TIOCOUTQ: L('T', 0x11, intPtr),
  TIOCMGET: L('T', 0x15, intPtr),
  TIOCMBIS: L('T', 0x16, intPtr),
  TIOCMBIC: L('T', 0x17, intPtr),
  TIOCMSET: L('T', 0x18, intPtr),
  FIONREAD: L('T', 0x1b, intPtr),
  TIOCGSERIAL: L('T', 0x1e, struct(serial_struct)),
  TIOCSSERIAL: L('T', 0x1f, struct(serial_struct)),
  FIONBIO: L('T', 0x21, intPtr),
  TIOCSBRK: L('T', 0x27, none),
  TIOCCBRK: L('T', 0x28, none),
  TCGETS2: R('T', 0x2a, struct(termios2)),
  TCSETS2: W('T', 0x2b, struct(termios2)),
  TCSETSW2: W('T', 0x2c, struct(termios2)),
  TCSETSF2: W('T', 0x2d, struct(termios2)),
  TIOCGPTN: R('T', 0x30, intPtr),
  TIOCSPTLCK: W('T', 0x31, intPtr),
  TIOCGPTPEER: I('T', 0x41, int),
  TIOCGEXCL: R('T', 0x40, intPtr),
  TIOCMIWAIT: L('T', 0x5c, int),
  TIOCGICOUNT: L('T', 0x5d, struct(serial_icounter_struct)),
};

/** arch/mips/include/uapi/asm/ioctls.h */
const TTY_MIPS: Readonly<Record<string, Spec>> = {
  TCGETS: L('T', 0x0d, struct(termios)),
  TCSETS: L('T', 0x0e, struct(termios)),
  TCSETSW: L('T', 0x0f, struct(termios)),
  TCSETSF: L('T', 0x10, struct(termios)),
  TCSBRK: L('T', 0x05, int),
  TCFLSH: L('T', 0x07, int),
  TIOCEXCL: L('t', 0x0d, none),
  TIOCNXCL: L('t', 0x0e, none),
  TIOCOUTQ: L('t', 0x72, intPtr),
  TIOCMGET: L('t', 0x1d, intPtr),
  TIOCMBIS: L('t', 0x1b, intPtr),
  TIOCMBIC: L('t', 0x1c, intPtr),
  TIOCMSET: L('t', 0x1a, intPtr),
  FIONREAD: L('F', 0x7f, intPtr),
  FIONBIO: L('f', 0x7e, intPtr),
  TIOCGSERIAL: L('T', 0x84, struct(serial_struct)),
  TIOCSSERIAL: L('T', 0x85, struct(serial_struct)),
  TIOCSBRK: L('T', 0x27, none),
  TIOCCBRK: L('T', 0x28, none),
  TCGETS2: R('T', 0x2a, struct(termios2)),
  TCSETS2: W('T', 0x2b, struct(termios2)),
  TCSETSW2: W('T', 0x2c, struct(termios2)),
  TCSETSF2: W('T', 0x2d, struct(termios2)),
  TIOCGPTN: R('T', 0x30, intPtr),
  TIOCSPTLCK: W('T', 0x31, intPtr),
  TIOCGPTPEER: I('T', 0x41, int),
  TIOCGEXCL: R('T', 0x40, intPtr),
  TIOCMIWAIT: L('T', 0x91, int),
  TIOCGICOUNT: L('T', 0x92, struct(serial_icounter_struct)),
};

/**
 * arch/powerpc/include/uapi/asm/ioctls.h: the 'T' numbers are the generic ones,
 * the termios and queue requests are _IO-encoded 't'/'f' ones, and there is no
 * termios2 (powerpc's termios already carries the speeds).
 */
const { TCGETS2: _g, TCSETS2: _s, TCSETSW2: _sw, TCSETSF2: _sf, ...GENERIC_WITHOUT_TERMIOS2 } = TTY_GENERIC;
const TTY_POWERPC: Readonly<Record<string, Spec>> = {
  ...GENERIC_WITHOUT_TERMIOS2,
  TCGETS: R('t', 19, struct(termios)),
  TCSETS: W('t', 20, struct(termios)),
  TCSETSW: W('t', 21, struct(termios)),
  TCSETSF: W('t', 22, struct(termios)),
  TCSBRK: I('t', 29, int),
  TCFLSH: I('t', 31, int),
  TIOCOUTQ: R('t', 115, intPtr),
  FIONREAD: R('f', 127, intPtr),
  FIONBIO: W('f', 126, intPtr),
};

/** arch/sparc/include/uapi/asm/ioctls.h */
const TTY_SPARC: Readonly<Record<string, Spec>> = {
  TCGETS: R('T', 8, struct(termios)),
  TCSETS: W('T', 9, struct(termios)),
  TCSETSW: W('T', 10, struct(termios)),
  TCSETSF: W('T', 11, struct(termios)),
  TCSBRK: I('T', 5, int),
  TCFLSH: I('T', 7, int),
  TCGETS2: R('T', 12, struct(termios2)),
  TCSETS2: W('T', 13, struct(termios2)),
  TCSETSW2: W('T', 14, struct(termios2)),
  TCSETSF2: W('T', 15, struct(termios2)),
  TIOCEXCL: I('t', 13),
  TIOCNXCL: I('t', 14),
  TIOCMGET: R('t', 106, intPtr),
  TIOCMBIC: W('t', 107, intPtr),
  TIOCMBIS: W('t', 108, intPtr),
  TIOCMSET: W('t', 109, intPtr),
  TIOCOUTQ: R('t', 115, intPtr),
  TIOCCBRK: I('t', 122),
  TIOCSBRK: I('t', 123),
  FIONREAD: R('f', 127, intPtr),
  FIONBIO: W('f', 126, intPtr),
  TIOCGSERIAL: L('T', 0x1e, struct(serial_struct)),
  TIOCSSERIAL: L('T', 0x1f, struct(serial_struct)),
  TIOCGPTN: R('t', 134, intPtr),
  TIOCSPTLCK: W('t', 135, intPtr),
  TIOCGPTPEER: I('t', 137, int),
  TIOCGEXCL: R('T', 0x40, intPtr),
  TIOCMIWAIT: L('T', 0x5c, int),
  TIOCGICOUNT: L('T', 0x5d, struct(serial_icounter_struct)),
};

const TTY: Record<TtyFamily, Readonly<Record<string, Spec>>> = {
  generic: TTY_GENERIC,
  mips: TTY_MIPS,
  powerpc: TTY_POWERPC,
  sparc: TTY_SPARC,
};

function argSize(arch: Arch, arg: ArgKind): number {
  switch (arg.kind) {
    case 'struct':
      return sizeOf(arg.struct, arch);
    case 'int':
    case 'int-pointer':
      return 4;
    case 'none':
      return 0;
  }
}

function build(arch: Arch, name: string, spec: Spec, header: string): IoctlRequest {
  let value: number;
  switch (spec.how) {
    case 'legacy':
      value = legacy(spec.type, spec.nr);
      break;
    case 'io':
      value = IO(arch, spec.type, spec.nr);
      break;
    case 'ior':
      value = IOR(arch, spec.type, spec.nr, argSize(arch, spec.arg));
      break;
    case 'iow':
      value = IOW(arch, spec.type, spec.nr, argSize(arch, spec.arg));
      break;
    case 'iowr':
      value = IOWR(arch, spec.type, spec.nr, argSize(arch, spec.arg));
      break;
  }
  return { ...decode(arch, value), name, arg: spec.arg, header };
}

export interface Catalogue {
  readonly arch: Arch;
  /** Throws a RangeError naming the arch when the request does not exist there (TCGETS2 on powerpc). */
  get(name: string): IoctlRequest;
  has(name: string): boolean;
  all(): readonly IoctlRequest[];
  /** Every name that has this value (a number can mean several requests). */
  namesOf(value: number): string[];
}

const catalogues = new WeakMap<Arch, Catalogue>();

export function catalogue(arch: Arch): Catalogue {
  const hit = catalogues.get(arch);
  if (hit) return hit;
  const byName = new Map<string, IoctlRequest>();
  for (const [name, spec] of Object.entries(TTY[arch.tty])) byName.set(name, build(arch, name, spec, 'asm/ioctls.h'));
  for (const [name, spec] of Object.entries(COMMON)) {
    byName.set(name, build(arch, name, spec, name.startsWith('MT') ? 'linux/mtio.h' : 'linux/gpio.h'));
  }
  const list = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  const cat: Catalogue = {
    arch,
    get(name) {
      const r = byName.get(name);
      if (!r) throw new RangeError(`ioctl ${name} does not exist on ${arch.name}`);
      return r;
    },
    has: (name) => byName.has(name),
    all: () => list,
    namesOf: (value) => list.filter((r) => r.value === value >>> 0).map((r) => r.name),
  };
  catalogues.set(arch, cat);
  return cat;
}

/**
 * The requests that read and set the line settings with arbitrary speeds:
 * TCGETS2/TCSETS2 where they exist, TCGETS/TCSETS on powerpc (whose termios has the speeds).
 */
export function termiosRequests(arch: Arch): { get: IoctlRequest; set: IoctlRequest; setDrain: IoctlRequest; setFlush: IoctlRequest } {
  const cat = catalogue(arch);
  return cat.has('TCGETS2')
    ? { get: cat.get('TCGETS2'), set: cat.get('TCSETS2'), setDrain: cat.get('TCSETSW2'), setFlush: cat.get('TCSETSF2') }
    : { get: cat.get('TCGETS'), set: cat.get('TCSETS'), setDrain: cat.get('TCSETSW'), setFlush: cat.get('TCSETSF') };
}
