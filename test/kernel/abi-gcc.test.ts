/**
 * The ABI cross-check: request codes and struct layouts computed in TypeScript
 * must equal what gcc makes of the kernel headers, natively, with -m32 for
 * i386, and with the Debian cross compilers for the other architectures.
 * "Natively" means for this process's ABI: under the emulated-ABI job that is
 * armhf or arm64, built with the cross compiler and run under the emulator.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archByName, hostArch } from '../../src/kernel/arch.js';
import { nativeCC, spawnNativeSync } from '../helpers/native.js';
import { hasCommand, inCI, requireTool } from '../helpers/tools.js';
import { expectedLines, programPrintingHeaderValues, staticAssertions } from './c-abi.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-abi-'));

function compileAndRun(archName: string, flags: string[], cc = 'gcc'): string[] {
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

const haveGcc =
  requireTool('gcc', 'compiles the kernel-header cross-check') && requireTool(nativeCC, 'compiles the native check for this ABI');

describe.skipIf(!haveGcc)('ABI against gcc and the kernel headers', () => {
  it(`native (${hostArch().name}, ${nativeCC}): every request value, struct size, alignment, member offset and size`, () => {
    const fromC = compileAndRun(hostArch().name, [], nativeCC);
    expect(fromC.length).toBeGreaterThan(150);
    expect(fromC).toEqual(expectedLines(hostArch()));
  });

  // gcc -m32 needs gcc-multilib; .ci/run installs it.
  const m32 = spawnSync('sh', ['-c', 'echo "int main(void){return 0;}" | gcc -m32 -x c -o /dev/null -'], { stdio: 'ignore' }).status === 0;
  // Only an x86_64 process runs the i386 check (an emulated armhf or arm64 one has no use for -m32).
  if (!m32 && inCI && hostArch().name === 'x86_64') throw new Error('CI=true and gcc -m32 does not link: install gcc-multilib');
  it.skipIf(!m32 || hostArch().name !== 'x86_64')('i386 (gcc -m32) matches --arch i386, where mtget is 28 bytes', () => {
    // Debian keeps asm/ under the x86_64 triplet; those headers switch on __i386__ themselves.
    const fromC = compileAndRun('i386', ['-m32', '-I/usr/include/x86_64-linux-gnu']);
    expect(fromC).toEqual(expectedLines(archByName('i386')));
    expect(fromC).toContain('S mtget 28 4');
  });

  const crosses: Array<[arch: string, cc: string]> = [
    ['armhf', 'arm-linux-gnueabihf-gcc'],
    ['aarch64', 'aarch64-linux-gnu-gcc'],
    ['mips', 'mips-linux-gnu-gcc'],
    ['ppc64', 'powerpc64-linux-gnu-gcc'],
    ['sparc64', 'sparc64-linux-gnu-gcc'],
  ];
  for (const [archName, cc] of crosses) {
    const have = hasCommand(cc);
    if (!have && inCI) throw new Error(`CI=true and ${cc} is missing; .ci/run installs the Debian cross compilers`);
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
