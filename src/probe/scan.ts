/**
 * `dev2mqtt probe`: what this machine has that dev2mqtt can drive, asked of
 * every registered kind (DeviceKind.probe); this file names none. sysfs,
 * procfs and /dev are read from configurable roots (tests point them at fake
 * trees, as Telegraf's HOST_SYS does); device nodes are asked through the
 * kernel seam, so a sim kernel answers in tests. Nothing is opened for
 * writing. Every item that cannot be read becomes a problem line, never a
 * crash — a kind whose scan fails outright included.
 */
import type { Kernel } from '../kernel/kernel.js';
import { FsSysfs } from '../kernel/sysfs-fs.js';
import type { AnyKind, KindProbe, ProbeHost } from '../devices/kind.js';

export interface ProbeRoots {
  /** Where sysfs is mounted: /sys. */
  readonly sysRoot: string;
  /** Where device nodes live: /dev. */
  readonly devRoot: string;
  /** Where procfs is mounted: /proc. */
  readonly procRoot?: string;
}

/** One kind's findings. */
export interface KindFound {
  readonly kind: string;
  readonly probe: KindProbe<unknown>;
  readonly found: unknown[];
}

export interface ProbeResult {
  readonly host: ProbeHost;
  readonly kinds: KindFound[];
  /** What could not be read, and why (permissions, odd attributes). */
  readonly problems: string[];
}

export function probeHost(roots: ProbeRoots, kernel: () => Kernel, problems: string[]): ProbeHost {
  let k: Kernel | undefined;
  return {
    sysfs: new FsSysfs(roots.sysRoot),
    procfs: new FsSysfs(roots.procRoot ?? '/proc', { toEof: true }),
    dev: new FsSysfs(roots.devRoot),
    kernel: () => (k ??= kernel()),
    problem: (text) => void problems.push(text),
  };
}

export async function probeMachine(roots: ProbeRoots, kinds: readonly AnyKind[], kernel: () => Kernel): Promise<ProbeResult> {
  const problems: string[] = [];
  const host = probeHost(roots, kernel, problems);
  const found: KindFound[] = [];
  for (const kind of kinds) {
    const probe = kind.probe;
    if (!probe) continue;
    try {
      found.push({ kind: kind.kind, probe, found: await probe.scan(host) });
    } catch (e) {
      problems.push(`${kind.kind}: ${(e as Error).message}`);
      found.push({ kind: kind.kind, probe, found: [] });
    }
  }
  return { host, kinds: found, problems };
}

/** `probe --json`'s `found`: each kind's findings under its key, then the problems. */
export function foundJson(r: ProbeResult): Record<string, unknown> {
  return { ...Object.fromEntries(r.kinds.map((k) => [k.probe.key, k.found])), problems: r.problems };
}

/** The listing for a person: one section per kind, then what could not be read. */
export function describeFound(r: ProbeResult): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]): void => {
    lines.push(title, ...(items.length ? items : ['  (none)']), '');
  };
  for (const k of r.kinds) section(k.probe.heading(r.host), k.probe.describe(k.found));
  if (r.problems.length)
    section(
      'Could not read',
      r.problems.map((p) => `  ${p}`),
    );
  return lines.join('\n');
}
