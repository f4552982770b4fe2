/**
 * The second seam to the kernel, beside the Kernel of device nodes: trees of
 * attribute files (sysfs, and procfs for the node's own telemetry). Kinds
 * reach them as `ctx.sysfs` / `ctx.procfs`, by paths relative to the tree's
 * root (`class/leds/ACT/brightness`), never with node:fs, so the same kind
 * runs on the real tree (sysfs-fs.ts, rooted at the `sysfsRoot` option) and
 * on a sim model of it (sysfs-sim.ts) that answers writes as the driver does.
 *
 * Every call is a promise and the real one does its reads and writes off the
 * event loop: most attributes answer from the driver's memory, but a show()
 * may wait on hardware (a DS18B20's conversion takes ~750 ms in w1_slave),
 * and the agent must not freeze on one. Failures are KernelErrors with the
 * errno, the syscall and the absolute path, as from the device-node seam.
 */
import { KernelError, type Syscall } from './errors.js';

export type SysfsEntry = 'dir' | 'file';

export abstract class Sysfs {
  /** Where the tree is mounted: `/sys`, a test's recorded tree, or the path a sim stands in for. */
  abstract readonly root: string;

  /** One read of the whole attribute, as the kernel renders it (trailing newline included). */
  abstract read(rel: string): Promise<string>;
  /** One write(2) of `value` to an attribute that exists: a sysfs store() sees exactly one value per call. */
  abstract write(rel: string, value: string): Promise<void>;
  /** A directory's entries, in natural order (`pwm2` before `pwm10`). */
  abstract list(rel: string): Promise<string[]>;
  /** What is at `rel` (links followed), undefined when nothing is. */
  abstract entry(rel: string): Promise<SysfsEntry | undefined>;
  abstract readlink(rel: string): Promise<string>;
  /** Resolves when `rel` may be opened for that; rejects with ENOENT, EACCES … as open(2) would. */
  abstract access(rel: string, mode: 'read' | 'write'): Promise<void>;
  /** The absolute path with every link resolved (an LED's class link → its /sys/devices directory). */
  abstract realpath(rel: string): Promise<string>;

  /** The absolute path of `rel`, for messages and for the device-node seam (poll on a sysfs value). */
  path(rel: string): string {
    return joinPath(this.root, rel);
  }

  /** The attribute's text without the kernel's trailing newline. */
  async value(rel: string): Promise<string> {
    return (await this.read(rel)).trim();
  }

  /** A decimal attribute (`brightness`, `npwm`, `period`); anything else is EINVAL naming the file. */
  async number(rel: string): Promise<number> {
    return decimal(await this.value(rel), this.path(rel));
  }

  async exists(rel: string): Promise<boolean> {
    return (await this.entry(rel)) !== undefined;
  }
}

/** Joins without node:path so the sim's virtual paths stay POSIX on every platform. */
export function joinPath(root: string, rel: string): string {
  const tail = rel.replace(/^\/+/, '');
  if (!tail) return root;
  return root.endsWith('/') ? `${root}${tail}` : `${root}/${tail}`;
}

/** A decimal value; anything else is an EINVAL KernelError naming the file. */
export function decimal(text: string, file: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw Object.assign(KernelError.of('EINVAL', { syscall: 'read', path: file }), {
      message: `EINVAL: ${file} holds '${text.slice(0, 40)}', not a number`,
    });
  }
  return n;
}

/** An fs error (`{code: 'EACCES'}`) as the seam's KernelError; anything without an errno is rethrown as is. */
export function asKernelError(e: unknown, syscall: Syscall, file: string): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return e;
  try {
    return KernelError.of(code, { syscall, path: file });
  } catch {
    return e;
  }
}

/** `ttyUSB2` before `ttyUSB10`, `pwm2` before `pwm10`. */
export function naturally(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
