import { describe, expect, it } from 'vitest';
import { hostArch } from '../../src/kernel/arch.js';
import { fieldsOf, layoutOf } from '../../src/kernel/ctypes.js';
import { koffiOffsetof, koffiSizeof } from '../../src/kernel/libc-types.js';
import { ALL_STRUCTS } from '../../src/kernel/structs.js';

describe('koffi realises the same layouts as ctypes.ts on this machine', () => {
  for (const def of ALL_STRUCTS) {
    it(def.name, () => {
      const ours = layoutOf(def, hostArch());
      expect(koffiSizeof(def)).toBe(ours.size);
      for (const [name] of fieldsOf(def, hostArch())) {
        if (name === '') continue; // anonymous unions: their members are checked against gcc instead
        expect(koffiOffsetof(def, name), `${def.name}.${name}`).toBe(ours.byName.get(name)?.offset);
      }
    });
  }
});
