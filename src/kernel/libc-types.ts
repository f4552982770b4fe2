/**
 * The struct declarations of structs.ts realised as koffi types for this
 * process. koffi lays them out with the C compiler's rules for the machine it
 * runs on, independently of ctypes.ts; test/kernel/koffi-types.test.ts checks
 * that both agree, which keeps our own layout engine honest on every arch the
 * agent actually runs on.
 */
import koffi from 'koffi';
import { hostArch } from './arch.js';
import { fieldsOf, isArray, isStruct, type CType, type Scalar, type StructDef } from './ctypes.js';

type KoffiType = ReturnType<typeof koffi.struct>;

const SCALARS: Record<Exclude<Scalar, 'daddr' | 'aligned_u64'>, string> = {
  u8: 'uint8_t',
  i8: 'int8_t',
  char: 'char',
  u16: 'uint16_t',
  i16: 'int16_t',
  u32: 'uint32_t',
  i32: 'int32_t',
  u64: 'uint64_t',
  i64: 'int64_t',
  long: 'long',
  ulong: 'unsigned long',
  ptr: 'void *',
};

const made = new Map<StructDef<object>, KoffiType>();
let anon = 0;

function koffiType(t: CType): KoffiType | string | [number, string] {
  if (typeof t === 'string') {
    if (t === 'aligned_u64') return [8, 'uint64_t'];
    if (t === 'daddr') return hostArch().daddrIsLong ? 'long' : 'int';
    return SCALARS[t];
  }
  if (isArray(t)) {
    const inner = koffiType(t.array);
    // koffi.array takes a type, not an alignment pair; aligned arrays do not occur in our structs.
    return koffi.array(Array.isArray(inner) ? inner[1] : inner, t.length, t.array === 'char' ? 'String' : 'Array');
  }
  return koffiStruct(t);
}

export function koffiStruct(def: StructDef<object>): KoffiType {
  const hit = made.get(def);
  if (hit) return hit;
  const members: Record<string, KoffiType | string | [number, string]> = {};
  for (const [name, type] of fieldsOf(def, hostArch())) {
    if (name === '' && isStruct(type)) {
      // koffi has no anonymous members; an unnamed union becomes a named one at the same offset.
      members[`__anon${anon++}`] = koffiStruct(type);
    } else {
      members[name] = koffiType(type);
    }
  }
  const typeName = `dev2mqtt_${def.name}`;
  const created = def.kind === 'union' ? koffi.union(typeName, members) : koffi.struct(typeName, members);
  made.set(def, created);
  return created;
}

export function koffiSizeof(def: StructDef<object>): number {
  return koffi.sizeof(koffiStruct(def));
}

export function koffiOffsetof(def: StructDef<object>, member: string): number {
  return koffi.offsetof(koffiStruct(def), member);
}
