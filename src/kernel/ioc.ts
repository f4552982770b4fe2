/**
 * ioctl request numbers: `_IO`, `_IOR`, `_IOW`, `_IOWR` and their decoding.
 * A request packs direction, type (a driver's letter), number and argument
 * size; the field widths and direction values depend on the architecture.
 */
import type { Arch, IocLayout } from './arch.js';

export type IocDir = 'none' | 'read' | 'write' | 'readwrite';

interface LayoutBits {
  readonly sizeBits: number;
  readonly dirBits: number;
  readonly none: number;
  readonly read: number;
  readonly write: number;
}

const GENERIC: LayoutBits = { sizeBits: 14, dirBits: 2, none: 0, read: 2, write: 1 };
// mips, powerpc and sparc give "none" its own bit, so size loses one bit.
const THREE_BIT: LayoutBits = { sizeBits: 13, dirBits: 3, none: 1, read: 2, write: 4 };

function bitsOf(layout: IocLayout): LayoutBits {
  return layout === 'generic' ? GENERIC : THREE_BIT;
}

const NR_SHIFT = 0;
const TYPE_SHIFT = 8;
const SIZE_SHIFT = 16;

export function iocMaxSize(arch: Arch): number {
  // sparc decodes 14 size bits when a transfer direction is set (see its asm/ioctl.h).
  return (1 << (arch.ioc === 'sparc' ? 14 : bitsOf(arch.ioc).sizeBits)) - 1;
}

function dirValue(bits: LayoutBits, dir: IocDir): number {
  switch (dir) {
    case 'none':
      return bits.none;
    case 'read':
      return bits.read;
    case 'write':
      return bits.write;
    case 'readwrite':
      return bits.read | bits.write;
  }
}

/** A driver's type: a character such as 'T' or 'm', or a number such as 0xB4. */
export type IocType = string | number;

function typeCode(type: IocType): number {
  const code = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (!Number.isInteger(code) || code < 0 || code > 0xff || (typeof type === 'string' && type.length !== 1)) {
    throw new RangeError(`ioctl type must be one byte, got ${String(type)}`);
  }
  return code;
}

export function ioc(arch: Arch, dir: IocDir, type: IocType, nr: number, size: number): number {
  const bits = bitsOf(arch.ioc);
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xff) throw new RangeError(`ioctl number must be 0..255, got ${nr}`);
  if (!Number.isInteger(size) || size < 0 || size > iocMaxSize(arch)) {
    throw new RangeError(`ioctl argument size ${size} does not fit the ${arch.name} request layout`);
  }
  const dirShift = SIZE_SHIFT + bits.sizeBits;
  return ((dirValue(bits, dir) << dirShift) | (size << SIZE_SHIFT) | (typeCode(type) << TYPE_SHIFT) | (nr << NR_SHIFT)) >>> 0;
}

export const IO = (arch: Arch, type: IocType, nr: number): number => ioc(arch, 'none', type, nr, 0);
export const IOR = (arch: Arch, type: IocType, nr: number, size: number): number => ioc(arch, 'read', type, nr, size);
export const IOW = (arch: Arch, type: IocType, nr: number, size: number): number => ioc(arch, 'write', type, nr, size);
export const IOWR = (arch: Arch, type: IocType, nr: number, size: number): number => ioc(arch, 'readwrite', type, nr, size);

/**
 * The old tty requests (0x5401 TCGETS …) predate `_IOC`: the header writes them
 * as type << 8 | number with no direction or size, on every architecture.
 */
export function legacy(type: IocType, nr: number): number {
  return ((typeCode(type) << TYPE_SHIFT) | (nr & 0xff)) >>> 0;
}

export interface DecodedRequest {
  readonly value: number;
  readonly dir: IocDir;
  readonly type: number;
  /** The type as a printable character when it is one ('T', 'm'), else its hex. */
  readonly typeChar: string;
  readonly nr: number;
  readonly size: number;
  /** True when the direction field is empty on a layout whose "none" has its own bit: a pre-_IOC number. */
  readonly legacy: boolean;
}

export function decode(arch: Arch, value: number): DecodedRequest {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`a request is a 32-bit unsigned number, got ${value}`);
  }
  const bits = bitsOf(arch.ioc);
  const dirShift = SIZE_SHIFT + bits.sizeBits;
  const rawDir = (value >>> dirShift) & ((1 << bits.dirBits) - 1);
  const rw = rawDir & (bits.read | bits.write);
  let dir: IocDir = 'none';
  if (rw === (bits.read | bits.write)) dir = 'readwrite';
  else if (rw === bits.read) dir = 'read';
  else if (rw === bits.write) dir = 'write';
  let sizeMask = (1 << bits.sizeBits) - 1;
  if (arch.ioc === 'sparc') sizeMask = rw === 0 ? 0 : (1 << 14) - 1;
  const size = (value >>> SIZE_SHIFT) & sizeMask;
  const type = (value >>> TYPE_SHIFT) & 0xff;
  const nr = (value >>> NR_SHIFT) & 0xff;
  const printable = type >= 0x21 && type <= 0x7e;
  return {
    value,
    dir,
    type,
    typeChar: printable ? String.fromCharCode(type) : `0x${type.toString(16).toUpperCase()}`,
    nr,
    size,
    legacy: bits.none !== 0 && rawDir === 0,
  };
}

export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
