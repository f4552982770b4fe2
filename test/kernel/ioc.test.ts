import { describe, expect, it } from 'vitest';
import { allArches, archByName, findArch, hostArch, kernelArch } from '../../src/kernel/arch.js';
import { decode, IO, IOR, IOW, IOWR, legacy } from '../../src/kernel/ioc.js';
import { catalogue } from '../../src/kernel/requests.js';
import { sizeOf } from '../../src/kernel/ctypes.js';
import { mtget } from '../../src/kernel/structs.js';

describe('request encoding', () => {
  it("the talk's trap: MTIOCGET changes with the size of long", () => {
    expect(sizeOf(mtget, archByName('x86_64'))).toBe(48);
    expect(sizeOf(mtget, archByName('armhf'))).toBe(28);
    expect(catalogue(archByName('x86_64')).get('MTIOCGET').value).toBe(0x80306d02);
    expect(catalogue(archByName('aarch64')).get('MTIOCGET').value).toBe(0x80306d02);
    expect(catalogue(archByName('armhf')).get('MTIOCGET').value).toBe(0x801c6d02);
    expect(catalogue(archByName('i386')).get('MTIOCGET').value).toBe(0x801c6d02);
  });

  it('mips, powerpc and sparc use a 3-bit direction and 13-bit size', () => {
    const mips = archByName('mips');
    expect(IOR(mips, 'm', 2, 28)).toBe(0x401c6d02);
    expect(IOW(mips, 'm', 1, 8)).toBe(0x80086d01);
    expect(IO(mips, 't', 29)).toBe(0x2000741d);
    expect(() => IOR(mips, 'x', 1, 0x2000)).toThrow(/does not fit/);
    expect(IOR(archByName('x86_64'), 'x', 1, 0x2000)).toBe(0xa0007801);
  });

  it('decode inverts encode on every arch and direction', () => {
    for (const arch of allArches()) {
      for (const [dir, f] of [
        ['read', IOR],
        ['write', IOW],
        ['readwrite', IOWR],
      ] as const) {
        const d = decode(arch, f(arch, 0xb4, 0x07, 592));
        expect({ arch: arch.name, dir: d.dir, type: d.type, nr: d.nr, size: d.size }).toEqual({
          arch: arch.name,
          dir,
          type: 0xb4,
          nr: 7,
          size: 592,
        });
      }
      const none = decode(arch, IO(arch, 'T', 0x41));
      expect([none.dir, none.typeChar, none.nr, none.size, none.legacy]).toEqual(['none', 'T', 0x41, 0, false]);
    }
  });

  it('legacy tty numbers are type<<8|nr with no direction on every arch', () => {
    expect(legacy('T', 0x01)).toBe(0x5401);
    const d = decode(archByName('mips'), legacy('t', 0x1d));
    expect([d.dir, d.typeChar, d.nr, d.legacy]).toEqual(['none', 't', 0x1d, true]);
    expect(decode(archByName('x86_64'), 0x5401).legacy).toBe(false);
  });

  it('catalogue names differ per family: TIOCMGET on mips, no TCGETS2 on powerpc', () => {
    expect(catalogue(archByName('mips')).get('TIOCMGET').value).toBe(0x741d);
    expect(catalogue(archByName('x86_64')).get('TIOCMGET').value).toBe(0x5415);
    expect(catalogue(archByName('ppc64')).has('TCGETS2')).toBe(false);
    expect(() => catalogue(archByName('ppc64')).get('TCGETS2')).toThrow(/does not exist on ppc64/);
    expect(catalogue(archByName('x86_64')).namesOf(0x5415)).toEqual(['TIOCMGET']);
  });

  it('finds arches by alias', () => {
    expect(findArch('arm64')?.name).toBe('aarch64');
    expect(findArch('ARM')?.name).toBe('armhf');
    expect(findArch('vax')).toBeUndefined();
  });

  it("the kernel's own ABI from uname's machine: a 32-bit kernel's long is 4 bytes, an arm64 kernel's 8", () => {
    expect(kernelArch('armv7l').longSize).toBe(4);
    expect(kernelArch('armv6l').longSize).toBe(4);
    expect(kernelArch('i686').longSize).toBe(4);
    expect(kernelArch('aarch64').longSize).toBe(8);
    expect(kernelArch('x86_64').longSize).toBe(8);
    // uname of a 32-bit process under PER_LINUX32 on an arm64 kernel (an armhf container on a 64-bit Pi kernel).
    expect(kernelArch('armv8l').name).toBe('aarch64');
    expect(kernelArch('armv8b').longSize).toBe(8);
    expect(kernelArch('vax')).toBe(hostArch());
    expect(() => archByName('vax')).toThrow(/unknown architecture 'vax'/);
  });

  it('rejects what cannot be a request', () => {
    const x = archByName('x86_64');
    expect(() => IOR(x, 'TT', 1, 4)).toThrow(/one byte/);
    expect(() => IOR(x, 'T', 256, 4)).toThrow(/0\.\.255/);
    expect(() => decode(x, -1)).toThrow(/32-bit/);
  });
});
