/**
 * The ABI cross-check: request codes and struct layouts computed in TypeScript
 * must equal what gcc makes of the kernel headers: natively (a program that
 * prints them), and with the Debian cross compilers for i386 and the other
 * architectures (_Static_asserts, compiled with -fsyntax-only, never run).
 * "Natively" means for this process's ABI: under the emulated-ABI job that is
 * armhf or arm64, built with the cross compiler and run under the emulator.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archByName, hostArch } from '../../src/kernel/arch.js';
import { nativeCC, spawnNativeSync } from '../helpers/native.js';
import { tempDir } from '../helpers/temp.js';
import { requireTools } from '../helpers/tools.js';
import { expectedLines, programPrintingHeaderValues, staticAssertions } from './c-abi.js';

const dir = tempDir('dev2mqtt-abi-');

function compileAndRun(archName: string, flags: string[], cc: string): string[] {
  const src = path.join(dir, `abi-${archName}.c`);
  const exe = path.join(dir, `abi-${archName}`);
  writeFileSync(src, programPrintingHeaderValues(archByName(archName)));
  const built = spawnSync(cc, ['-std=gnu11', '-Wall', '-o', exe, src, ...flags], { encoding: 'utf8' });
  expect(built.stderr, `${cc} errors`).toBe('');
  expect(built.status).toBe(0);
  const run = spawnNativeSync(exe, [], { encoding: 'utf8' });
  expect(run.status).toBe(0);
  return run.stdout.trim().split('\n');
}

const haveGcc = requireTools('the ABI check against the kernel headers', ...new Set(['gcc', nativeCC]));

describe.skipIf(!haveGcc)('ABI against gcc and the kernel headers', () => {
  it(`native (${hostArch().name}, ${nativeCC}): every request value, struct size, alignment, member offset and size`, () => {
    const fromC = compileAndRun(hostArch().name, [], nativeCC);
    expect(fromC.length).toBeGreaterThan(150);
    expect(fromC).toEqual(expectedLines(hostArch()));
  });

  // Every other ABI is checked at compile time: no test runs a foreign binary natively
  // (a kernel without IA32 emulation cannot even run an i386 one).
  const crosses: Array<[arch: string, cc: string]> = [
    ['i386', 'i686-linux-gnu-gcc'],
    ['armhf', 'arm-linux-gnueabihf-gcc'],
    ['aarch64', 'aarch64-linux-gnu-gcc'],
    ['mips', 'mips-linux-gnu-gcc'],
    ['ppc64', 'powerpc64-linux-gnu-gcc'],
    ['sparc64', 'sparc64-linux-gnu-gcc'],
  ];
  for (const [archName, cc] of crosses) {
    const have = requireTools(`the ${archName} layout check`, cc);
    it.skipIf(!have)(`${archName} (${cc}): every value holds as a _Static_assert`, () => {
      const src = path.join(dir, `assert-${archName}.c`);
      writeFileSync(src, staticAssertions(archByName(archName)));
      const r = spawnSync(cc, ['-std=gnu11', '-fsyntax-only', src], { encoding: 'utf8' });
      const failures = r.stderr.split('\n').filter((l) => l.includes('dev2mqtt says'));
      expect(failures).toEqual([]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('on i386 and armhf (long is 4 bytes) those assertions hold gcc to a 28-byte mtget', () => {
    for (const a of ['i386', 'armhf']) expect(staticAssertions(archByName(a))).toContain('_Static_assert(sizeof(struct mtget) == 28,');
  });

  it('the check can fail: a wrong value is caught', () => {
    const src = path.join(dir, 'negative.c');
    writeFileSync(
      src,
      `${staticAssertions(hostArch())}\n_Static_assert(MTIOCGET == 0x12345678UL, "MTIOCGET: dev2mqtt says 0x12345678 on test");\n`,
    );
    const r = spawnSync(nativeCC, ['-std=gnu11', '-fsyntax-only', src], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('MTIOCGET: dev2mqtt says 0x12345678');
  });
});
