/**
 * C struct declarations as data, and their layout for any architecture.
 * Each struct of the kernel interfaces we use is declared once (structs.ts);
 * this file computes offsets, sizes and alignment the way the C compiler of
 * the target does, so the same declaration serves this process (through koffi)
 * and `--arch` listings for other machines. test/kernel/abi.c.test.ts checks
 * the result against gcc and the kernel headers.
 */
import type { Arch } from './arch.js';

/**
 * Scalar C types. `long`/`ulong`/`ptr` follow the arch; `daddr` is
 * `__kernel_daddr_t`; `aligned_u64` is the uapi `__aligned_u64`, 8-aligned even
 * on i386 where a plain 64-bit member is only 4-aligned.
 */
export type Scalar =
  'u8' | 'i8' | 'char' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'aligned_u64' | 'long' | 'ulong' | 'ptr' | 'daddr';

export interface ArrayType {
  readonly array: CType;
  readonly length: number;
}

export type CType = Scalar | ArrayType | StructDef<object>;

/** A member; the empty name marks an anonymous union whose members belong to the parent. */
export type Field = readonly [name: string, type: CType];
export type Fields = readonly Field[];

/** `T` is the decoded JavaScript shape; it only exists for the type checker. */
export interface StructDef<T extends object> {
  readonly kind: 'struct' | 'union';
  readonly name: string;
  readonly fields: Fields | ((arch: Arch) => Fields);
  /** Never set: carries T. */
  readonly __shape?: T;
}

export function defineStruct<T extends object>(name: string, fields: Fields | ((arch: Arch) => Fields)): StructDef<T> {
  return { kind: 'struct', name, fields };
}

export function defineUnion<T extends object>(name: string, fields: Fields): StructDef<T> {
  return { kind: 'union', name, fields };
}

export const arrayOf = (type: CType, length: number): ArrayType => ({ array: type, length });

export function isArray(t: CType): t is ArrayType {
  return typeof t === 'object' && 'array' in t;
}

export function isStruct(t: CType): t is StructDef<object> {
  return typeof t === 'object' && 'kind' in t;
}

export interface ScalarInfo {
  readonly size: number;
  readonly align: number;
  readonly signed: boolean;
}

export function scalarInfo(arch: Arch, t: Scalar): ScalarInfo {
  switch (t) {
    case 'u8':
      return { size: 1, align: 1, signed: false };
    case 'char':
    case 'i8':
      return { size: 1, align: 1, signed: true };
    case 'u16':
      return { size: 2, align: 2, signed: false };
    case 'i16':
      return { size: 2, align: 2, signed: true };
    case 'u32':
      return { size: 4, align: 4, signed: false };
    case 'i32':
      return { size: 4, align: 4, signed: true };
    case 'u64':
      return { size: 8, align: arch.int64Align, signed: false };
    case 'i64':
      return { size: 8, align: arch.int64Align, signed: true };
    case 'aligned_u64':
      return { size: 8, align: 8, signed: false };
    case 'long':
      return { size: arch.longSize, align: arch.longSize, signed: true };
    case 'ulong':
    case 'ptr':
      return { size: arch.longSize, align: arch.longSize, signed: false };
    case 'daddr':
      return arch.daddrIsLong ? scalarInfo(arch, 'long') : scalarInfo(arch, 'i32');
  }
}

export interface FieldLayout {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly type: CType;
}

export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  /** Members in declaration order; members of anonymous unions appear flattened. */
  readonly fields: readonly FieldLayout[];
  readonly byName: ReadonlyMap<string, FieldLayout>;
}

const cache = new WeakMap<Arch, Map<StructDef<object>, StructLayout>>();

export function fieldsOf(def: StructDef<object>, arch: Arch): Fields {
  return typeof def.fields === 'function' ? def.fields(arch) : def.fields;
}

export function sizeAlign(arch: Arch, t: CType): { size: number; align: number } {
  if (typeof t === 'string') return scalarInfo(arch, t);
  if (isArray(t)) {
    const inner = sizeAlign(arch, t.array);
    return { size: inner.size * t.length, align: inner.align };
  }
  const l = layoutOf(t, arch);
  return { size: l.size, align: l.align };
}

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export function layoutOf(def: StructDef<object>, arch: Arch): StructLayout {
  let perArch = cache.get(arch);
  if (!perArch) cache.set(arch, (perArch = new Map<StructDef<object>, StructLayout>()));
  const hit = perArch.get(def);
  if (hit) return hit;

  const fields: FieldLayout[] = [];
  let offset = 0;
  let size = 0;
  let align = 1;
  for (const [name, type] of fieldsOf(def, arch)) {
    const sa = sizeAlign(arch, type);
    align = Math.max(align, sa.align);
    const at = def.kind === 'union' ? 0 : roundUp(offset, sa.align);
    if (name === '' && isStruct(type)) {
      for (const inner of layoutOf(type, arch).fields) fields.push({ ...inner, offset: at + inner.offset });
    } else {
      fields.push({ name, offset: at, size: sa.size, type });
    }
    offset = at + sa.size;
    size = Math.max(size, offset);
  }
  const layout: StructLayout = {
    name: def.name,
    size: roundUp(size, align),
    align,
    fields,
    byName: new Map(fields.map((f) => [f.name, f])),
  };
  perArch.set(def, layout);
  return layout;
}

export function sizeOf(def: StructDef<object>, arch: Arch): number {
  return layoutOf(def, arch).size;
}

export function offsetOf(def: StructDef<object>, arch: Arch, field: string): number {
  const f = layoutOf(def, arch).byName.get(field);
  if (!f) throw new RangeError(`struct ${def.name} has no member '${field}'`);
  return f.offset;
}
