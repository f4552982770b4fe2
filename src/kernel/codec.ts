/**
 * Struct buffers: JavaScript objects to and from the bytes the kernel reads and
 * writes, for any architecture's layout and byte order. The libc kernel passes
 * these buffers to ioctl; the sim models read and fill the very same buffers.
 */
import type { Arch } from './arch.js';
import { isArray, layoutOf, scalarInfo, sizeOf, type CType, type Scalar, type StructDef } from './ctypes.js';

/** Deep partial input for `encode`: members left out are zero, as with a `memset` struct. */
export type StructInput<T> = {
  [K in keyof T]?: T[K] extends readonly (infer E)[]
    ? readonly (E extends object ? StructInput<E> : E)[]
    : T[K] extends bigint
      ? bigint | number
      : T[K] extends object
        ? StructInput<T[K]>
        : T[K];
};

function isWide(t: Scalar, arch: Arch): boolean {
  return scalarInfo(arch, t).size === 8;
}

/** 64-bit scalars that are always 64-bit (u64, aligned_u64) decode to bigint; `long` stays a number. */
function decodesToBigint(t: Scalar): boolean {
  return t === 'u64' || t === 'i64' || t === 'aligned_u64';
}

function readScalar(view: DataView, at: number, t: Scalar, arch: Arch): number | bigint {
  const le = arch.littleEndian;
  const info = scalarInfo(arch, t);
  switch (info.size) {
    case 1:
      return info.signed ? view.getInt8(at) : view.getUint8(at);
    case 2:
      return info.signed ? view.getInt16(at, le) : view.getUint16(at, le);
    case 4:
      return info.signed ? view.getInt32(at, le) : view.getUint32(at, le);
    default: {
      const big = info.signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
      return decodesToBigint(t) ? big : Number(big);
    }
  }
}

function writeScalar(view: DataView, at: number, t: Scalar, arch: Arch, value: unknown): void {
  const le = arch.littleEndian;
  const info = scalarInfo(arch, t);
  if (value === undefined || value === null) return;
  if (isWide(t, arch)) {
    const big = typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value)));
    if (info.signed) view.setBigInt64(at, BigInt.asIntN(64, big), le);
    else view.setBigUint64(at, BigInt.asUintN(64, big), le);
    return;
  }
  const n = Math.trunc(Number(value));
  switch (info.size) {
    case 1:
      view.setUint8(at, n & 0xff);
      break;
    case 2:
      view.setUint16(at, n & 0xffff, le);
      break;
    default:
      view.setUint32(at, n >>> 0, le);
      break;
  }
}

function readValue(view: DataView, at: number, type: CType, arch: Arch): unknown {
  if (typeof type === 'string') return readScalar(view, at, type, arch);
  if (isArray(type)) {
    if (type.array === 'char') {
      const bytes = new Uint8Array(view.buffer, view.byteOffset + at, type.length);
      const end = bytes.indexOf(0);
      return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('utf8');
    }
    const step = scalarInfoOrSize(type.array, arch);
    return Array.from({ length: type.length }, (_, i) => readValue(view, at + i * step, type.array, arch));
  }
  return readStruct(view, at, type, arch);
}

function scalarInfoOrSize(t: CType, arch: Arch): number {
  if (typeof t === 'string') return scalarInfo(arch, t).size;
  if (isArray(t)) return scalarInfoOrSize(t.array, arch) * t.length;
  return sizeOf(t, arch);
}

function writeValue(view: DataView, at: number, type: CType, arch: Arch, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof type === 'string') return writeScalar(view, at, type, arch, value);
  if (isArray(type)) {
    if (type.array === 'char' && typeof value === 'string') {
      const bytes = Buffer.from(value, 'utf8');
      // Leave room for the terminating NUL the kernel expects in name fields.
      const n = Math.min(bytes.length, type.length - 1);
      new Uint8Array(view.buffer, view.byteOffset + at, n).set(bytes.subarray(0, n));
      return;
    }
    const items = value as readonly unknown[];
    const step = scalarInfoOrSize(type.array, arch);
    for (let i = 0; i < Math.min(items.length, type.length); i++) writeValue(view, at + i * step, type.array, arch, items[i]);
    return;
  }
  writeStruct(view, at, type, arch, value as Record<string, unknown>);
}

function readStruct(view: DataView, base: number, def: StructDef<object>, arch: Arch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of layoutOf(def, arch).fields) out[f.name] = readValue(view, base + f.offset, f.type, arch);
  return out;
}

function writeStruct(view: DataView, base: number, def: StructDef<object>, arch: Arch, value: Record<string, unknown>): void {
  for (const f of layoutOf(def, arch).fields) {
    // Own properties only: a hostile `__proto__` key in user JSON must not reach the buffer.
    if (Object.prototype.hasOwnProperty.call(value, f.name)) writeValue(view, base + f.offset, f.type, arch, value[f.name]);
  }
}

function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** A zeroed buffer of the struct's size for `arch`. */
export function alloc<T extends object>(def: StructDef<T>, arch: Arch): Buffer {
  return Buffer.alloc(sizeOf(def, arch));
}

export function encode<T extends object>(def: StructDef<T>, arch: Arch, value: StructInput<T>, into?: Buffer): Buffer {
  const buf = into ?? alloc(def, arch);
  if (buf.length < sizeOf(def, arch)) throw new RangeError(`buffer of ${buf.length} bytes is smaller than struct ${def.name}`);
  if (into) buf.fill(0, 0, sizeOf(def, arch));
  writeStruct(viewOf(buf), 0, def, arch, value);
  return buf;
}

export function decode<T extends object>(def: StructDef<T>, arch: Arch, buf: Uint8Array, offset = 0): T {
  if (buf.length - offset < sizeOf(def, arch)) {
    throw new RangeError(`struct ${def.name} needs ${sizeOf(def, arch)} bytes, got ${buf.length - offset}`);
  }
  return readStruct(viewOf(buf), offset, def, arch) as T;
}

/** Reads one member without decoding the whole struct (hot paths: poll loops, line values). */
export function readField(def: StructDef<object>, arch: Arch, buf: Uint8Array, field: string): unknown {
  const f = layoutOf(def, arch).byName.get(field);
  if (!f) throw new RangeError(`struct ${def.name} has no member '${field}'`);
  return readValue(viewOf(buf), f.offset, f.type, arch);
}

export function writeField(def: StructDef<object>, arch: Arch, buf: Uint8Array, field: string, value: unknown): void {
  const f = layoutOf(def, arch).byName.get(field);
  if (!f) throw new RangeError(`struct ${def.name} has no member '${field}'`);
  writeValue(viewOf(buf), f.offset, f.type, arch, value);
}

/** A buffer holding one C int, for requests that take a pointer to an int (TIOCMGET, FIONREAD …). */
export function intArg(arch: Arch, value = 0): Buffer {
  const b = Buffer.alloc(4);
  if (arch.littleEndian) b.writeInt32LE(value | 0, 0);
  else b.writeInt32BE(value | 0, 0);
  return b;
}

export function readInt(arch: Arch, buf: Uint8Array): number {
  return viewOf(buf).getInt32(0, arch.littleEndian);
}
