/**
 * A mount that does not answer, with a call that really sleeps in the
 * kernel on libuv's thread pool. This machine can make no hung NFS or CIFS
 * mount (no network, no FUSE), so the device's kernel seam is pointed, for
 * one mount, at a call that blocks the same way: open(2) of a FIFO for
 * reading sleeps in the kernel until a writer opens it, holding a pool
 * thread as a hung statfs does. Everything else is real: /proc, /sys and
 * statfs(2) of `/`. The test shows the host device opening and reading with
 * that thread stuck, the pool still serving other fs work, no second call
 * on the stuck mount, and the mount read again once its call returns.
 */
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostDevice, HostState } from '../../../src/devices/host/device.js';
import { hostKind } from '../../../src/devices/host/kind.js';
import type { Kernel } from '../../../src/kernel/kernel.js';
import type { FsStats } from '../../../src/kernel/statfs.js';
import { tempDir } from '../../helpers/temp.js';
import { makeTestDevice } from '../../helpers/device-context.js';

let writer: FifoWriter | undefined;
afterEach(async () => {
  // Whatever happened, no pool thread is left asleep on the FIFO, and the writer end is closed.
  if (writer?.readerAsked) await writer.open();
  await writer?.close();
  writer = undefined;
});

/**
 * The writer end. Its open(2) blocks (on a pool thread of its own) until the
 * reader's open meets it, whichever of the two reaches the kernel first: a
 * non-blocking writer would get ENXIO, and leave the reader asleep for good,
 * if the reader's pool thread had not yet entered open(2).
 */
class FifoWriter {
  #fh: FileHandle | undefined;
  /** The reader's open(2) was asked for (it may still wait in the pool's queue). */
  readerAsked = false;
  constructor(private readonly fifo: string) {}
  async open(): Promise<void> {
    this.#fh ??= await open(this.fifo, 'w');
  }
  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}

describe('host with a mount whose call sleeps in the kernel', () => {
  it('opens and reads without it, keeps the pool serving, asks it once, and reads it when the call returns', async () => {
    const dir = tempDir('dev2mqtt-hung-');
    const fifo = path.join(dir, 'server');
    execFileSync('mkfifo', [fifo]);
    const stuck = path.join(dir, 'nas');
    const server = new FifoWriter(fifo);
    writer = server;
    let calls = 0;
    let returned!: () => void;
    const callReturned = new Promise<void>((r) => (returned = r));
    const wrap = (k: Kernel): Kernel => ({
      name: k.name,
      arch: k.arch,
      open: (p, f) => k.open(p, f),
      adopt: (fd, p) => k.adopt(fd, p),
      statfs: async (p: string): Promise<FsStats> => {
        if (p !== stuck) return (k.statfs as (x: string) => Promise<FsStats>)(p);
        calls++;
        server.readerAsked = true;
        // A pool thread asleep in open(2) until a writer comes: the server that does not answer.
        const fh = await open(fifo, 'r');
        await fh.close();
        returned();
        return (k.statfs as (x: string) => Promise<FsStats>)('/');
      },
    });
    // The bound applies to the real statfs of `/` too, whose pool thread a loaded CI machine may
    // hold back a while: 3 s, not the least the option allows; only the first read waits it out.
    const t = await makeTestDevice<unknown, HostDevice>(hostKind, {
      options: { mounts: ['/', stuck], mountTimeoutMs: 3000, interfaces: ['lo'], wifi: [], throttling: false, readMs: 3_600_000 },
      wrapKernel: wrap,
    });
    await t.device.open();
    const root = statfsSync('/');
    let s = t.device.state();
    expect(s.disks['/']?.totalBytes).toBe(root.blocks * root.bsize);
    expect(s.disks[stuck]?.usedPercent).toBeNull();
    expect(s.memory.totalBytes).toBeGreaterThan(0);
    expect(s.network.lo?.rxBytes).not.toBeNull();
    expect(calls).toBe(1);
    // The pool still does other fs work beside the sleeping thread.
    expect(await readFile('/proc/self/stat', 'utf8')).toMatch(/^\d+ /);
    // Two more reads while that call still sleeps.
    await t.run('get');
    s = (await t.run('get')) as HostState;
    expect(s.disks[stuck]?.usedPercent).toBeNull();
    expect(s.disks['/']?.totalBytes).toBe(root.blocks * root.bsize);
    expect(calls).toBe(1);
    expect(t.recorded.events.map((e) => [e.type, e.what, (e.error as { errno?: string } | undefined)?.errno])).toEqual([
      ['read_failed', `disk ${stuck}`, 'ETIMEDOUT'],
    ]);
    // The server answers: the sleeping open(2) returns, and the next read asks the mount again.
    await server.open();
    await callReturned;
    s = (await t.run('get')) as HostState;
    expect(calls).toBe(2);
    expect(s.disks[stuck]?.totalBytes).toBe(root.blocks * root.bsize);
    expect(t.recorded.events.at(-1)).toMatchObject({ type: 'read_ok', what: `disk ${stuck}` });
    t.abort.abort();
    await t.device.close();
  });
});
