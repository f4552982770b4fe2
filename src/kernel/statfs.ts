/**
 * statfs(2): how full a mounted filesystem is, the one syscall of the node's
 * own telemetry that is not a file read. The real call is libuv's
 * uv_fs_statfs (node:fs), which runs on the thread pool and fills `struct
 * statfs` from the C library's own headers, so the 32-bit layout (statfs64
 * under _FILE_OFFSET_BITS=64 on armhf) is right on every ABI without a
 * struct of ours, and without loading koffi. Failures are KernelErrors with
 * the errno, syscall `statfs` and the path, like every call of the seam.
 */
import { statfs as nodeStatfs } from 'node:fs/promises';
import { KernelError } from './errors.js';
import type { Kernel } from './kernel.js';
import { asKernelError } from './sysfs.js';

/** The fields of `struct statfs` a user acts on; block counts are in units of `bsize`. */
export interface FsStats {
  /** f_type: the filesystem's magic number (0xEF53 ext4, 0x4d44 vfat, 0x01021994 tmpfs). */
  readonly type: number;
  /** f_bsize: the block size the counts are in. */
  readonly bsize: number;
  /** f_blocks: the size of the filesystem. */
  readonly blocks: number;
  /** f_bfree: free blocks, the ones reserved for root included. */
  readonly bfree: number;
  /** f_bavail: free blocks an unprivileged user may take. */
  readonly bavail: number;
  /** f_files / f_ffree: inodes in all and free (0 where the filesystem has no fixed count, vfat). */
  readonly files: number;
  readonly ffree: number;
}

/** Usage as `df` shows it: used is what is not free; use% is used over what users can have (used + available). */
export interface FsUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly availableBytes: number;
  readonly usedPercent: number;
}

export async function realStatfs(path: string): Promise<FsStats> {
  try {
    const s = await nodeStatfs(path, { bigint: true });
    return {
      type: Number(s.type),
      bsize: Number(s.bsize),
      blocks: Number(s.blocks),
      bfree: Number(s.bfree),
      bavail: Number(s.bavail),
      files: Number(s.files),
      ffree: Number(s.ffree),
    };
  } catch (e) {
    throw asKernelError(e, 'statfs', path);
  }
}

/** statfs through a device's kernel; ENOSYS from one that models no filesystem. */
export function statfsOf(kernel: Kernel, path: string): Promise<FsStats> {
  if (!kernel.statfs) return Promise.reject(KernelError.of('ENOSYS', { syscall: 'statfs', path }));
  return kernel.statfs(path);
}

export function usageOf(s: FsStats): FsUsage {
  const totalBytes = s.blocks * s.bsize;
  const usedBytes = (s.blocks - s.bfree) * s.bsize;
  const availableBytes = s.bavail * s.bsize;
  const room = usedBytes + availableBytes;
  // df rounds use% up: a filesystem with one block used is not 0 % full.
  const usedPercent = room > 0 ? Math.ceil((usedBytes / room) * 1000) / 10 : 0;
  return { totalBytes, usedBytes, availableBytes, usedPercent };
}
