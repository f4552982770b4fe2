/**
 * Mounted filesystems as a model, for sims and tests of statfs(2): a kernel
 * with no device nodes (open is ENOENT) whose statfs answers as Linux does —
 * the filesystem holding a path is the one mounted at its longest mounted
 * prefix (statfs of /home/pi on a root-only system reports the root
 * filesystem); a path no mount covers is ENOENT. A test changes a filesystem
 * over time (set: the disk fills), unmounts it, or makes a path fail with an
 * errno (EACCES: a directory the service may not search; EIO: a dying card),
 * or hang: a network mount whose server stopped answering, where statfs
 * sleeps in the kernel (an NFS hard mount retries for ever) until the server
 * is back, and then returns the numbers as usual.
 * Every path under a mount is taken to exist.
 */
import { hostArch, type Arch } from './arch.js';
import { KernelError } from './errors.js';
import type { DeviceFile, Kernel } from './kernel.js';
import type { FsStats } from './statfs.js';

/** A mounted filesystem's numbers; left out: 4 KiB blocks, all free to users, no inode counts, ext4's magic. */
export interface SimFilesystem {
  readonly type?: number;
  readonly bsize?: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail?: number;
  readonly files?: number;
  readonly ffree?: number;
}

const EXT4_MAGIC = 0xef53;

function normal(p: string): string {
  if (!p.startsWith('/')) throw new Error(`sim mounts: '${p}' is not an absolute path`);
  const parts = p.split('/').filter((x) => x && x !== '.');
  return `/${parts.join('/')}`;
}

export class SimMounts implements Kernel {
  readonly name = 'sim:mounts';
  readonly arch: Arch = hostArch();
  /** The modelled kernel's own ABI (a 32-bit Pi kernel: armhf); undefined is this machine's. */
  kernelArch: Arch | undefined;
  readonly #mounts = new Map<string, FsStats>();
  readonly #failing = new Map<string, string>();
  /** Per hung path, the calls asleep on it. */
  readonly #hung = new Map<string, Array<() => void>>();
  /** How many statfs calls were answered (a test checks that a read happened). */
  calls = 0;

  mount(at: string, fs: SimFilesystem): void {
    this.#mounts.set(normal(at), {
      type: fs.type ?? EXT4_MAGIC,
      bsize: fs.bsize ?? 4096,
      blocks: fs.blocks,
      bfree: fs.bfree,
      bavail: fs.bavail ?? fs.bfree,
      files: fs.files ?? 0,
      ffree: fs.ffree ?? 0,
    });
  }

  /** The filesystem changes (files written, deleted). */
  set(at: string, change: Partial<SimFilesystem>): void {
    const before = this.#mounts.get(normal(at));
    if (!before) throw new Error(`sim mounts: nothing is mounted at ${at}`);
    this.#mounts.set(normal(at), { ...before, ...change });
  }

  unmount(at: string): void {
    this.#mounts.delete(normal(at));
  }

  /** From now on statfs of exactly `path` fails with `errno`; undefined lifts it. */
  fail(path: string, errno: string | undefined): void {
    if (errno) this.#failing.set(normal(path), errno);
    else this.#failing.delete(normal(path));
  }

  /** From now on statfs of exactly `path` sleeps until answer(path), as on a mount whose server is gone. */
  hang(path: string): void {
    if (!this.#hung.has(normal(path))) this.#hung.set(normal(path), []);
  }

  /** The server is back: every call asleep on `path` returns, and new ones no longer wait. */
  answer(path: string): void {
    const asleep = this.#hung.get(normal(path)) ?? [];
    this.#hung.delete(normal(path));
    for (const wake of asleep) wake();
  }

  /** How many statfs calls are asleep on `path` now. */
  asleep(path: string): number {
    return this.#hung.get(normal(path))?.length ?? 0;
  }

  mounted(): string[] {
    return [...this.#mounts.keys()];
  }

  async statfs(path: string): Promise<FsStats> {
    this.calls++;
    const p = normal(path);
    const hung = this.#hung.get(p);
    if (hung) await new Promise<void>((wake) => hung.push(wake));
    const errno = this.#failing.get(p);
    if (errno) throw KernelError.of(errno, { syscall: 'statfs', path });
    for (let at = p; ; at = at.slice(0, Math.max(1, at.lastIndexOf('/')))) {
      const fs = this.#mounts.get(at);
      if (fs) return { ...fs };
      if (at === '/') break;
    }
    throw KernelError.of('ENOENT', { syscall: 'statfs', path });
  }

  open(path: string, _flags?: number): DeviceFile {
    throw KernelError.of('ENOENT', { syscall: 'open', path });
  }

  adopt(_fd: number, path: string): DeviceFile {
    throw KernelError.of('EBADF', { syscall: 'open', path });
  }
}
