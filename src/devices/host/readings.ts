/**
 * The node's own numbers as the kernel prints them, parsed (proc(5) formats;
 * the Raspberry Pi firmware driver's `get_throttled`): pure functions of the
 * text, so the device, probe and tests share them. A line or field that is
 * not there is left out, never guessed.
 */

/** `/proc/loadavg`: `0.52 0.58 0.59 1/467 12345`. */
export function parseLoadavg(text: string): { load1: number; load5: number; load15: number } | undefined {
  const m = /^(\d+\.\d+) (\d+\.\d+) (\d+\.\d+) /.exec(text.trim());
  return m ? { load1: Number(m[1]), load5: Number(m[2]), load15: Number(m[3]) } : undefined;
}

/** The `cpu` line of `/proc/stat` (jiffies): busy and total, for a usage over two reads; and `btime`. */
export interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

export function parseStat(text: string): { cpu: CpuTimes | undefined; btime: number | undefined } {
  let cpu: CpuTimes | undefined;
  let btime: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      // user nice system idle iowait irq softirq steal (guest time is already in user and nice).
      const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f.slice(1).map(Number);
      if ([user, nice, system, idle].every((n) => Number.isFinite(n))) {
        const idleAll = (idle as number) + iowait;
        const total = (user as number) + (nice as number) + (system as number) + idleAll + irq + softirq + steal;
        cpu = { busy: total - idleAll, total };
      }
    } else if (f[0] === 'btime' && /^\d+$/.test(f[1] ?? '')) btime = Number(f[1]);
  }
  return { cpu, btime };
}

/** CPU busy share between two reads of `/proc/stat`, in %; undefined without a first read or elapsed time. */
export function cpuPercent(before: CpuTimes | undefined, now: CpuTimes | undefined): number | undefined {
  // Counters that went back are another boot's (or a recorded tree swapped): no usage from them.
  if (!before || !now || now.total <= before.total || now.busy < before.busy) return undefined;
  return Math.round(((now.busy - before.busy) / (now.total - before.total)) * 1000) / 10;
}

/** `/proc/meminfo` in bytes: total, available (MemAvailable: what can be had without swapping), used. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number; usedPercent: number } | undefined {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  // Kernels before 3.14 lack MemAvailable: free + buffers + cache is what free(1) used then.
  const available = kb('MemAvailable') ?? sum(kb('MemFree'), kb('Buffers'), kb('Cached'));
  if (!total || available === undefined) return undefined;
  return { totalBytes: total, availableBytes: available, usedPercent: Math.round(((total - available) / total) * 1000) / 10 };
}

function sum(...xs: Array<number | undefined>): number | undefined {
  return xs.every((x) => x !== undefined) ? xs.reduce<number>((a, b) => a + b, 0) : undefined;
}

/** `/proc/net/dev`: received and sent bytes per interface (the counters since the interface came up). */
export function parseNetDev(text: string): Map<string, { rx: number; tx: number }> {
  const out = new Map<string, { rx: number; tx: number }>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] as string).trim().split(/\s+/).map(Number);
    // Receive has eight columns (bytes first), then transmit (bytes first).
    if (f.length >= 9 && Number.isFinite(f[0]) && Number.isFinite(f[8]))
      out.set(m[1] as string, { rx: f[0] as number, tx: f[8] as number });
  }
  return out;
}

/**
 * How far a counter moved between two reads, or undefined when it restarted.
 * /proc/net/dev prints every counter as a u64, but a driver without
 * ndo_get_stats64 counts in `struct net_device_stats`, whose fields are
 * `unsigned long`: 32 bits on a kernel whose `long` is 4 bytes, where such a
 * counter wraps at 2^32 (every ~34 s at 1 Gbit/s). So with `counterBits` 32,
 * a counter that went back from under 2^32 to a value that makes a short way
 * round (under half the range, 2 GiB) wrapped; any other step back is a
 * restart (the driver reloaded, the interface re-created), with no rate.
 */
export function counterDelta(before: number, now: number, counterBits: 32 | 64): number | undefined {
  if (now >= before) return now - before;
  if (counterBits !== 32 || before >= WRAP_32) return undefined;
  const around = WRAP_32 - before + now;
  return around < WRAP_32 / 2 ? around : undefined;
}

const WRAP_32 = 2 ** 32;

/** A byte rate between two counter reads (counterDelta: a 32-bit wrap is counted, a restart gives none). */
export function rate(before: number | undefined, now: number, seconds: number, counterBits: 32 | 64 = 64): number | undefined {
  if (before === undefined || seconds <= 0) return undefined;
  const moved = counterDelta(before, now, counterBits);
  return moved === undefined ? undefined : Math.round(moved / seconds);
}

/** `/proc/net/wireless`: per interface the link quality and the signal level in dBm. */
export function parseWireless(text: string): Map<string, { quality: number; signalDbm: number }> {
  const out = new Map<string, { quality: number; signalDbm: number }>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s+[0-9a-f]+\s+(-?\d+)\.?\s+(-?\d+)\.?\s/.exec(line);
    if (m) out.set(m[1] as string, { quality: Number(m[2]), signalDbm: Number(m[3]) });
  }
  return out;
}

/** Pseudo and in-memory filesystems: no disk to fill (`/proc/mounts` types). */
const VIRTUAL_FS = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'tmpfs',
  'ramfs',
  'cgroup',
  'cgroup2',
  'securityfs',
  'debugfs',
  'tracefs',
  'configfs',
  'fusectl',
  'pstore',
  'bpf',
  'mqueue',
  'hugetlbfs',
  'autofs',
  'binfmt_misc',
  'efivarfs',
  'rpc_pipefs',
  'nsfs',
  'overlay',
  'squashfs',
  'fuse.portal',
  'fuse.gvfsd-fuse',
]);

/**
 * `/proc/mounts`: the mount points of filesystems that hold data (octal
 * escapes such as `\040` decoded), each block device once: its bind mounts
 * (and btrfs subvolumes) answer statfs with the same numbers as its first.
 */
export function parseMounts(text: string): string[] {
  const out: string[] = [];
  const devices = new Set<string>();
  for (const line of text.split('\n')) {
    const [source, at, type] = line.split(' ');
    if (!source || !at || !type || VIRTUAL_FS.has(type)) continue;
    if (source.startsWith('/dev/')) {
      if (devices.has(source)) continue;
      devices.add(source);
    }
    const point = at.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!out.includes(point)) out.push(point);
  }
  return out;
}

/**
 * The firmware's throttled bits (`vcgencmd get_throttled`; the kernel prints
 * them in hex): 0 under-voltage now, 1 ARM frequency capped now, 2 throttled
 * now, 3 soft temperature limit now; bits 16–19 the same since boot.
 */
export interface Throttled {
  readonly raw: string;
  readonly underVoltage: boolean;
  readonly frequencyCapped: boolean;
  readonly throttled: boolean;
  readonly softTempLimit: boolean;
  readonly underVoltageOccurred: boolean;
  readonly frequencyCappedOccurred: boolean;
  readonly throttledOccurred: boolean;
  readonly softTempLimitOccurred: boolean;
}

export function decodeThrottled(text: string): Throttled | undefined {
  const t = text.trim();
  if (!/^(0x)?[0-9a-f]+$/i.test(t)) return undefined;
  const v = parseInt(t.replace(/^0x/i, ''), 16);
  const bit = (n: number): boolean => ((v >>> n) & 1) === 1;
  return {
    raw: `0x${v.toString(16)}`,
    underVoltage: bit(0),
    frequencyCapped: bit(1),
    throttled: bit(2),
    softTempLimit: bit(3),
    underVoltageOccurred: bit(16),
    frequencyCappedOccurred: bit(17),
    throttledOccurred: bit(18),
    softTempLimitOccurred: bit(19),
  };
}

/** A device-tree string property: NUL-terminated (a list of them for `compatible`). */
export function dtString(text: string): string {
  return text.split('\0')[0]?.trim() ?? '';
}
