/**
 * statfs(2) on the kernel seam: the real call (libuv's, on the thread pool)
 * against `df` on this machine, its errors as the seam's KernelErrors, and
 * the mounts model the sims use (longest mounted prefix, ENOENT, an errno on
 * demand, numbers that change), plus df's arithmetic of use%.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toErrorBody } from '../../src/devices/errors.js';
import { KernelError } from '../../src/kernel/errors.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import { statfsOf, usageOf } from '../../src/kernel/statfs.js';
import { SimMounts } from '../../src/kernel/statfs-sim.js';

const root = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-statfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `df -B1` of a path: its size, used and available bytes, and Use% as df prints it. */
function df(p: string): { size: number; pcent: number } {
  const out = execFileSync('df', ['-B1', '--output=size,pcent', p], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/);
  return { size: Number(out[0]), pcent: Number(out[1]!.replace('%', '')) };
}

describe('statfs on the real kernel', () => {
  const kernel = new LibcKernel();

  it('reports the filesystem of a path as df does: the same size in bytes', async () => {
    for (const p of ['/', root]) {
      const s = await statfsOf(kernel, p);
      expect(s.bsize).toBeGreaterThan(0);
      expect(s.blocks).toBeGreaterThan(0);
      expect(s.bfree).toBeLessThanOrEqual(s.blocks);
      expect(s.bavail).toBeLessThanOrEqual(s.bfree);
      // Size is fixed while the test runs; used and free move with the machine's other tenants.
      expect(usageOf(s).totalBytes, p).toBe(df(p).size);
    }
  });

  it('a missing path is ENOENT with the syscall and the path, as a result carries it', async () => {
    const missing = path.join(root, 'no-such-mount');
    const e = await statfsOf(kernel, missing).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelError);
    expect(toErrorBody(e)).toMatchObject({ code: 'device_error', errno: 'ENOENT', syscall: 'statfs', path: missing });
  });

  it('a kernel that models no filesystem answers ENOSYS', async () => {
    const bare: Kernel = { name: 'bare', arch: kernel.arch, open: () => kernel.open('/', 0), adopt: () => kernel.adopt(0, '/') };
    await expect(statfsOf(bare, '/')).rejects.toMatchObject({ code: 'ENOSYS', syscall: 'statfs', path: '/' });
  });
});

describe('usage as df computes it', () => {
  it('used is what is not free; use% is used over used + available, rounded up', () => {
    const u = usageOf({ type: 0xef53, bsize: 4096, blocks: 1000, bfree: 300, bavail: 250, files: 0, ffree: 0 });
    expect(u).toEqual({ totalBytes: 4_096_000, usedBytes: 2_867_200, availableBytes: 1_024_000, usedPercent: 73.7 });
    // 700 / 950 = 73.68… → 73.7 at one decimal, rounded up as df's whole percent is.
    expect(usageOf({ type: 0, bsize: 512, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 }).usedPercent).toBe(0);
  });

  it('agrees with df on this machine to the whole percent', async () => {
    const u = usageOf(await statfsOf(new LibcKernel(), root));
    // df prints ceil(used / (used + avail) * 100); one decimal rounded up can only be at or below it.
    const d = df(root).pcent;
    expect(Math.ceil(u.usedPercent)).toBeGreaterThanOrEqual(d - 1);
    expect(Math.ceil(u.usedPercent)).toBeLessThanOrEqual(d + 1);
  });
});

describe('the mounts model (SimMounts)', () => {
  it('answers for the longest mounted prefix; a path no mount covers is ENOENT', async () => {
    const m = new SimMounts();
    await expect(m.statfs('/')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'statfs' });
    m.mount('/', { blocks: 1000, bfree: 400 });
    m.mount('/boot/firmware', { type: 0x4d44, bsize: 512, blocks: 1_048_576, bfree: 900_000 });
    expect(await m.statfs('/home/pi')).toMatchObject({ type: 0xef53, bsize: 4096, blocks: 1000, bfree: 400, bavail: 400 });
    expect(await m.statfs('/boot/firmware/overlays/')).toMatchObject({ type: 0x4d44, bsize: 512 });
    expect(await m.statfs('/boot')).toMatchObject({ type: 0xef53 });
    expect(m.mounted()).toEqual(['/', '/boot/firmware']);
  });

  it('changes over time, fails on demand with an errno, and has no device nodes', async () => {
    const m = new SimMounts();
    m.mount('/', { blocks: 1000, bfree: 400 });
    m.set('/', { bfree: 100, bavail: 50 });
    expect(usageOf(await m.statfs('/')).usedPercent).toBe(94.8);
    m.fail('/srv', 'EACCES');
    await expect(m.statfs('/srv')).rejects.toMatchObject({ code: 'EACCES', path: '/srv' });
    m.fail('/srv', undefined);
    expect((await m.statfs('/srv')).blocks).toBe(1000);
    m.unmount('/');
    await expect(m.statfs('/srv')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => m.open('/dev/sda', 0)).toThrow(/ENOENT/);
    expect(m.calls).toBe(4);
  });
});
