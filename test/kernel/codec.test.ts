import { describe, expect, it } from 'vitest';
import { archByName } from '../../src/kernel/arch.js';
import { decode, encode, readField, writeField } from '../../src/kernel/codec.js';
import { layoutOf } from '../../src/kernel/ctypes.js';
import { gpio_v2_line_attribute, gpio_v2_line_request, gpiochip_info, mtget, mtop } from '../../src/kernel/structs.js';

describe('struct codec', () => {
  it('round-trips mtget on 64-bit little endian and 32-bit big endian', () => {
    const value = {
      mt_type: 0x72,
      mt_resid: 1,
      mt_dsreg: (0x44 << 24) | 512,
      mt_gstat: 0x41010000 | 0,
      mt_erreg: -1,
      mt_fileno: 3,
      mt_blkno: 7,
    };
    for (const name of ['x86_64', 'mips', 'armhf'] as const) {
      const arch = archByName(name);
      const buf = encode(mtget, arch, value);
      expect(buf.length).toBe(name === 'x86_64' ? 48 : 28);
      expect(decode(mtget, arch, buf)).toEqual(value);
    }
    const be = encode(mtop, archByName('mips'), { mt_op: 6, mt_count: 1 });
    expect([...be]).toEqual([0, 6, 0, 0, 0, 0, 0, 1]);
  });

  it('char arrays are NUL-terminated strings, truncated to leave the NUL', () => {
    const arch = archByName('aarch64');
    const buf = encode(gpiochip_info, arch, { name: 'gpiochip0', label: 'x'.repeat(40), lines: 54 });
    const d = decode(gpiochip_info, arch, buf);
    expect(d).toEqual({ name: 'gpiochip0', label: 'x'.repeat(31), lines: 54 });
  });

  it('anonymous unions share their offset; u64 members are bigint', () => {
    const arch = archByName('i386');
    const l = layoutOf(gpio_v2_line_attribute, arch);
    expect(l.size).toBe(16);
    expect(l.byName.get('flags')?.offset).toBe(8);
    expect(l.byName.get('debounce_period_us')?.offset).toBe(8);
    const buf = encode(gpio_v2_line_attribute, arch, { id: 3, debounce_period_us: 5000 });
    expect(decode(gpio_v2_line_attribute, arch, buf).values).toBe(5000n);
  });

  it('nested structs and arrays of structs encode in place', () => {
    const arch = archByName('x86_64');
    const buf = encode(gpio_v2_line_request, arch, {
      offsets: [17],
      consumer: 'dev2mqtt',
      num_lines: 1,
      config: { flags: 1n << 3n, num_attrs: 1, attrs: [{ attr: { id: 2, values: 1n }, mask: 1n }] },
    });
    expect(buf.length).toBe(592);
    const d = decode(gpio_v2_line_request, arch, buf);
    expect(d.offsets[0]).toBe(17);
    expect(d.consumer).toBe('dev2mqtt');
    expect(d.config.flags).toBe(8n);
    expect(d.config.attrs[0]?.attr.values).toBe(1n);
    expect(d.config.attrs[0]?.mask).toBe(1n);
    writeField(gpio_v2_line_request, arch, buf, 'fd', 42);
    expect(readField(gpio_v2_line_request, arch, buf, 'fd')).toBe(42);
  });

  it('ignores inherited keys such as a hostile __proto__', () => {
    const arch = archByName('x86_64');
    const hostile = JSON.parse('{"mt_op": 1, "__proto__": {"mt_count": 99}}') as { mt_op: number };
    expect(decode(mtop, arch, encode(mtop, arch, hostile))).toEqual({ mt_op: 1, mt_count: 0 });
  });

  it('refuses a buffer too small for the struct', () => {
    expect(() => decode(mtget, archByName('x86_64'), Buffer.alloc(28))).toThrow(/needs 48 bytes/);
  });
});
