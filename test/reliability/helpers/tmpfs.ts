/**
 * A small tmpfs of its own for a test, standing in for a Raspberry Pi's SD
 * card: filled to the last byte, remounted read-only and back, and always
 * unmounted again (also when the test failed; mounts a killed test run left
 * behind are swept at the next start). Mounting needs root (CAP_SYS_ADMIN):
 * where it is refused, suites skip with the reason, and fail under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inCI, noteSkip } from '../../helpers/tools.js';

const PREFIX = 'dev2mqtt-tmpfs-';

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}${r.error ? r.error.message : ''}`.trim() };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Unmounts what an earlier, killed run of these tests left mounted (its process is gone). */
function sweep(): void {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  for (const line of mounts.split('\n')) {
    const at = line.split(' ')[1] ?? '';
    const m = new RegExp(`^${tmpdir()}/${PREFIX}(\\d+)-`).exec(at);
    if (!m || alive(Number(m[1]))) continue;
    run('umount', ['-l', at]);
    rmSync(at, { recursive: true, force: true });
  }
}

let support: { ok: true } | { ok: false; why: string } | undefined;

/**
 * Whether this process may mount a tmpfs. Outside CI a refusal returns false (the
 * caller skips, saying why); under CI=true it throws: these suites must run there.
 */
export function canMountTmpfs(): boolean {
  if (!support) {
    sweep();
    const dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}${process.pid}-probe-`));
    const r = run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    if (r.ok) run('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
    support = r.ok
      ? { ok: true }
      : { ok: false, why: `mount -t tmpfs refused (${r.out || 'no reason given'}); run as root to include these tests` };
  }
  if (support.ok) return true;
  if (inCI) throw new Error(`CI=true and ${support.why}`);
  noteSkip('storage fault tests (a tmpfs as node.stateDir)', support.why);
  return false;
}

export class Tmpfs {
  readonly dir: string;
  #fillers: string[] = [];
  #mounted = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A fresh tmpfs of `kib` KiB. */
  static mount(kib: number): Tmpfs {
    const dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}${process.pid}-`));
    const r = run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', dir]);
    if (!r.ok) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mount tmpfs on ${dir} failed: ${r.out}`);
    }
    const t = new Tmpfs(dir);
    t.#mounted = true;
    return t;
  }

  /** Bytes still free for an unprivileged writer. */
  get freeBytes(): number {
    const s = statfsSync(this.dir);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** Writes filler files until the filesystem has not one byte left (ENOSPC at every size down to 1). */
  fill(): void {
    const file = path.join(this.dir, `filler-${this.#fillers.length}`);
    this.#fillers.push(file);
    const fd = openSync(file, 'a');
    try {
      for (const size of [65536, 4096, 512, 64, 1]) {
        const chunk = Buffer.alloc(size, 0x66);
        for (;;) {
          try {
            if (writeSync(fd, chunk) < size) break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw e;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    if (this.freeBytes !== 0) throw new Error(`${this.dir} still has ${this.freeBytes} bytes free after filling`);
  }

  /** Removes every filler: the space is back. */
  unfill(): void {
    for (const f of this.#fillers.splice(0)) rmSync(f, { force: true });
  }

  /**
   * Remounts read-only or read-write. Linux refuses a read-only remount while
   * a file on it is open for writing (EBUSY): that is retried until the
   * writer lets go, as an administrator would retry.
   */
  async remount(mode: 'ro' | 'rw'): Promise<void> {
    const giveUp = Date.now() + 20_000;
    for (;;) {
      const r = run('mount', ['-o', `remount,${mode}`, this.dir]);
      if (r.ok) return;
      if (!/busy/i.test(r.out) || Date.now() > giveUp)
        throw new Error(`mount -o remount,${mode} ${this.dir} failed (a file on it stays open for writing?): ${r.out}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Unmounts (lazily if something still holds it) and removes the mount point; safe to call twice. */
  cleanup(): void {
    if (this.#mounted) {
      if (!run('umount', [this.dir]).ok) run('umount', ['-l', this.dir]);
      this.#mounted = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
