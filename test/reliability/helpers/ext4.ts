/**
 * A failing SD card, on a real filesystem: a small ext4 image on a loop
 * device, shut down in place with EXT4_IOC_SHUTDOWN (what ext4 does to itself
 * when the card under it fails: from then on every write is EIO), then
 * "replaced" by mounting the image again. The mount point is made immutable
 * while the image is off it, so nothing can be written there by mistake
 * between the two mounts. Needs root, loop devices, mkfs.ext4 and gcc; where
 * they are missing the suite skips with the reason, and fails under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compileC } from '../../helpers/cprog.js';
import { inCI, noteSkip } from '../../helpers/tools.js';

const SHUTDOWN_C = `
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/types.h>
/* fs/ext4/ext4.h; not in the uapi headers. NOLOGFLUSH: the journal is not flushed, as on a dead card. */
#define EXT4_IOC_SHUTDOWN _IOR('X', 125, __u32)
#define EXT4_GOING_FLAGS_NOLOGFLUSH 0x2
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror("open"); return 1; }
  __u32 flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
  if (ioctl(fd, EXT4_IOC_SHUTDOWN, &flags) < 0) { perror("EXT4_IOC_SHUTDOWN"); return 1; }
  return 0;
}
`;

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}${r.error ? r.error.message : ''}`.trim() };
}

let support: { ok: true } | { ok: false; why: string } | undefined;

/** Whether an ext4 image can be made, loop-mounted and shut down here (see canMountTmpfs for the CI rule). */
export function canFailExt4(): boolean {
  if (!support) {
    let why = '';
    try {
      const img = Ext4Image.create(4);
      img.cleanup();
      compileC('ext4-shutdown', SHUTDOWN_C);
    } catch (e) {
      why = (e as Error).message;
    }
    support = why ? { ok: false, why } : { ok: true };
  }
  if (support.ok) return true;
  if (inCI) throw new Error(`CI=true and the failing-card test cannot run: ${support.why}`);
  noteSkip('the failing-card test (ext4 shut down under the agent)', support.why);
  return false;
}

export class Ext4Image {
  readonly dir: string;
  readonly #image: string;
  readonly #root: string;
  #mounted = false;

  private constructor(root: string) {
    this.#root = root;
    this.#image = path.join(root, 'card.img');
    this.dir = path.join(root, 'mnt');
  }

  /** A fresh ext4 of `mib` MiB, mounted (noatime, as Raspberry Pi OS mounts its root). */
  static create(mib: number): Ext4Image {
    const root = mkdtempSync(path.join(tmpdir(), `dev2mqtt-ext4-${process.pid}-`));
    const img = new Ext4Image(root);
    try {
      const steps: Array<[string, string[]]> = [
        ['truncate', ['-s', `${mib}M`, img.#image]],
        ['mkfs.ext4', ['-q', '-F', img.#image]],
        ['mkdir', [img.dir]],
      ];
      for (const [cmd, args] of steps) {
        const r = run(cmd, args);
        if (!r.ok) throw new Error(`${cmd} ${args.join(' ')}: ${r.out || 'failed'}`);
      }
      img.mount();
    } catch (e) {
      img.cleanup();
      throw e;
    }
    return img;
  }

  mount(): void {
    run('chattr', ['-i', this.dir]);
    const r = run('mount', ['-o', 'loop,noatime', this.#image, this.dir]);
    if (!r.ok) throw new Error(`mount -o loop ${this.#image}: ${r.out}`);
    this.#mounted = true;
  }

  /** The card fails: every write to the filesystem is EIO from now on. */
  shutDown(): void {
    const r = run(compileC('ext4-shutdown', SHUTDOWN_C), [this.dir]);
    if (!r.ok) throw new Error(`EXT4_IOC_SHUTDOWN on ${this.dir}: ${r.out}`);
  }

  /** The dead filesystem off its mount point (lazily if a file on it is still open); the empty point made immutable. */
  unmount(): void {
    if (this.#mounted && !run('umount', [this.dir]).ok) run('umount', ['-l', this.dir]);
    this.#mounted = false;
    const r = run('chattr', ['+i', this.dir]);
    if (!r.ok) throw new Error(`chattr +i ${this.dir}: ${r.out}`);
  }

  /**
   * Breaks one of the filesystem's own structures for `name`, as a failing card or a torn write does: debugfs
   * sets a field of its inode while the image is off its mount point, and ext4 finds it broken at the next
   * lookup (`checksum`: EBADMSG; `block[0] 0`, the extent header's magic: EUCLEAN).
   */
  damageInode(name: string, field: string, value: string): void {
    this.unmount();
    const r = run('debugfs', ['-w', '-R', `set_inode_field ${name} ${field} ${value}`, this.#image]);
    if (!r.ok || /error|not found/i.test(r.out.replace(/^debugfs [\d.]+ \(.*\)$/m, ''))) {
      throw new Error(`debugfs set_inode_field ${name} ${field} ${value}: ${r.out}`);
    }
    this.mount();
  }

  cleanup(): void {
    if (this.#mounted && !run('umount', [this.dir]).ok) run('umount', ['-l', this.dir]);
    this.#mounted = false;
    run('chattr', ['-i', this.dir]);
    rmSync(this.#root, { recursive: true, force: true });
  }
}
