/**
 * The real tree: node:fs under a root (`/sys`, `/proc`, or a test's recorded
 * copy of one, Telegraf's HOST_SYS idea).
 *
 * Reads and writes cost one trip through libuv's thread pool each (a procfs
 * tree's reads one more, for the end of its seq_file tables): open(2)
 * and close(2) of an attribute only touch kernfs, never the driver, so they
 * stay synchronous; the read(2) or write(2), where a driver's show()/store()
 * may wait on hardware, goes to the pool. (fs.promises.readFile would be
 * four trips — open, fstat, read, close — for a 2-byte `brightness`.)
 * sysfs never creates files, so neither do writes here (a missing attribute
 * is ENOENT, as on the real tree); O_TRUNC is harmless on sysfs and makes a
 * fake tree in a temp dir hold exactly the last value written.
 */
import { closeSync, constants, openSync, read as readCb, write as writeCb } from 'node:fs';
import { access, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { asKernelError, naturally, Sysfs, type SysfsEntry } from './sysfs.js';

/** sysfs renders at most a page per attribute; procfs tables may need a few reads. */
const CHUNK = 16 * 1024;

export interface FsTreeOptions {
  /**
   * The tree's files are seq_file tables (procfs: mounts, net/dev): the
   * kernel fills one page of whole lines per read(2) whatever was asked, so
   * a short read is not the end and the file is read until read(2) says 0.
   * A sysfs attribute is rendered by one show() and comes whole in the first
   * read: reading on would cost a second trip through the pool for nothing.
   */
  readonly toEof?: boolean;
}

function readAt(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => readCb(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));
}

function writeAll(fd: number, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => writeCb(fd, data, 0, data.length, null, (e, n) => (e ? reject(e) : resolve(n))));
}

export class FsSysfs extends Sysfs {
  readonly root: string;
  readonly #toEof: boolean;

  constructor(root: string, options: FsTreeOptions = {}) {
    super();
    this.root = path.resolve(root);
    this.#toEof = options.toEof ?? false;
  }

  override path(rel: string): string {
    return path.join(this.root, rel);
  }

  async read(rel: string): Promise<string> {
    return (await this.bytes(rel)).toString('utf8');
  }

  async bytes(rel: string): Promise<Buffer> {
    const file = this.path(rel);
    const fd = this.#open(file, constants.O_RDONLY);
    try {
      const chunks: Buffer[] = [];
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK);
        const n = await readAt(fd, buf).catch((e: unknown) => {
          throw asKernelError(e, 'read', file);
        });
        chunks.push(buf.subarray(0, n));
        // A short read is the end of a sysfs attribute (one show() renders it), not of a seq_file table.
        if (n === 0 || (n < CHUNK && !this.#toEof)) break;
      }
      return Buffer.concat(chunks);
    } finally {
      closeSync(fd);
    }
  }

  async write(rel: string, value: string): Promise<void> {
    const file = this.path(rel);
    const fd = this.#open(file, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await writeAll(fd, Buffer.from(value)).catch((e: unknown) => {
        throw asKernelError(e, 'write', file);
      });
    } finally {
      closeSync(fd);
    }
  }

  list(rel: string): Promise<string[]> {
    return this.#path(rel, async (dir) => (await readdir(dir)).sort(naturally));
  }

  async entry(rel: string): Promise<SysfsEntry | undefined> {
    try {
      return (await stat(this.path(rel))).isDirectory() ? 'dir' : 'file';
    } catch {
      return undefined;
    }
  }

  readlink(rel: string): Promise<string> {
    return this.#path(rel, (file) => readlink(file));
  }

  access(rel: string, mode: 'read' | 'write'): Promise<void> {
    return this.#path(rel, (file) => access(file, mode === 'read' ? constants.R_OK : constants.W_OK));
  }

  realpath(rel: string): Promise<string> {
    return this.#path(rel, (file) => realpath(file));
  }

  /** A path-level fs call, its errno as the seam's KernelError on the absolute path. */
  async #path<T>(rel: string, call: (file: string) => Promise<T>): Promise<T> {
    const file = this.path(rel);
    try {
      return await call(file);
    } catch (e) {
      throw asKernelError(e, 'open', file);
    }
  }

  #open(file: string, flags: number): number {
    try {
      return openSync(file, flags);
    } catch (e) {
      throw asKernelError(e, 'open', file);
    }
  }
}
