/**
 * The node itself as a device: every `readMs` it reads /proc and /sys
 * (through the device's procfs and sysfs seams, under `procRoot` and
 * `sysfsRoot`) and statfs(2) of each configured mount (waited on for
 * `mountTimeoutMs` at most: mount-statfs.ts), and publishes one
 * state. No child process, no vcgencmd: the firmware's throttled bits come
 * from the Raspberry Pi firmware driver's `get_throttled` attribute where the
 * kernel has one. Rates (network bytes, CPU usage) are the change since the
 * previous read. Each item is read on its own: one that fails is null in the
 * state and a `read_failed` event (once per new error), the rest still
 * publish.
 */
import type { Device, DeviceContext, Poll } from '../kind.js';
import { toErrorBody } from '../errors.js';
import { kernelArch } from '../../kernel/arch.js';
import { usageOf, type FsUsage } from '../../kernel/statfs.js';
import { MountStatfs } from './mount-statfs.js';
import { findZone, thermalZones, type ThermalZone } from '../sensor/thermal.js';
import {
  cpuPercent,
  decodeThrottled,
  dtString,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseStat,
  parseWireless,
  rate,
  type CpuTimes,
  type Throttled,
} from './readings.js';
import type { Sysfs } from '../../kernel/sysfs.js';

export interface HostOptions {
  readonly sysfsRoot: string;
  readonly procRoot: string;
  readonly readMs: number;
  readonly zone?: string | undefined;
  readonly mounts: readonly string[];
  readonly mountTimeoutMs: number;
  readonly interfaces: readonly string[];
  readonly wifi: readonly string[];
  readonly throttling: boolean;
}

/** The most mounts a host device publishes (the option's bound; probe writes no more). */
export const MAX_MOUNTS = 32;

/** Thermal zone types of a SoC or CPU package, best first: the CPU temperature when `zone` names none. */
export const CPU_ZONE_TYPES = ['cpu-thermal', 'cpu_thermal', 'soc-thermal', 'soc_thermal', 'x86_pkg_temp', 'cpu0-thermal', 'acpitz'];

/** The zone the CPU temperature is read from when `zone` names none: the first of a CPU type, else thermal_zone0. */
export function cpuZone(zones: readonly ThermalZone[]): ThermalZone | undefined {
  for (const t of CPU_ZONE_TYPES) {
    const z = zones.find((x) => x.type === t);
    if (z) return z;
  }
  return zones.find((z) => z.zone === 'thermal_zone0');
}

/** Where the firmware driver put `get_throttled`: beside its bound device, whatever the SoC calls that node. */
export async function throttledPath(sysfs: Sysfs): Promise<string | undefined> {
  const drv = 'bus/platform/drivers/raspberrypi-firmware';
  for (const dev of await sysfs.list(drv).catch(() => [])) {
    if (await sysfs.exists(`${drv}/${dev}/get_throttled`)) return `${drv}/${dev}/get_throttled`;
  }
  return undefined;
}

/** The board: the device tree's `model` (every Pi), else DMI's vendor and product (an x86 box). */
export async function boardModel(sysfs: Sysfs): Promise<string | undefined> {
  const dt = await sysfs.read('firmware/devicetree/base/model').then(dtString, () => '');
  if (dt) return dt;
  const dmi = async (f: string): Promise<string> => sysfs.value(`class/dmi/id/${f}`).catch(() => '');
  const text = [await dmi('sys_vendor'), await dmi('product_name')].filter((x) => x && !/^(to be filled|default string)/i.test(x));
  return text.length ? text.join(' ') : undefined;
}

type Maybe<T> = { [K in keyof T]: T[K] | null };

/** What the device publishes; a null is an item not read (not there, or its read failed). */
export type HostState = {
  model: string | null;
  bootTime: string | null;
  ts: number | null;
  cpu: Maybe<{
    temperature: number;
    zone: string;
    usagePercent: number;
    load1: number;
    load5: number;
    load15: number;
    frequencyMHz: number;
  }>;
  throttled: Throttled | null;
  memory: Maybe<{ totalBytes: number; availableBytes: number; usedPercent: number }>;
  disks: Record<string, Maybe<FsUsage>>;
  network: Record<string, Maybe<{ rxBytesPerS: number; txBytesPerS: number; rxBytes: number; txBytes: number }>>;
  wifi: Record<string, Maybe<{ signalDbm: number; quality: number }>>;
};

const none = (): Maybe<FsUsage> => ({
  totalBytes: null,
  usedBytes: null,
  availableBytes: null,
  usedPercent: null,
});

/** The shortest time between two reads that a rate is taken over. */
const MIN_RATE_S = 1;

interface Sample {
  at: number;
  cpu: CpuTimes | undefined;
  net: Map<string, { rx: number; tx: number }>;
}

export class HostDevice implements Device {
  #zone: ThermalZone | undefined;
  #throttledAt: string | undefined;
  #model: string | undefined;
  #poll: Poll | undefined;
  #last: Sample | undefined;
  #state: HostState;
  readonly #mounts: MountStatfs;
  /** Aborted at close (and when the agent stops): a read still waiting on a mount ends and publishes nothing. */
  #life = new AbortController();
  /** The error last reported per item: an error is an event once, until it changes or the item reads again. */
  readonly #failing = new Map<string, string>();

  constructor(private readonly ctx: DeviceContext<HostOptions>) {
    this.#state = this.#empty();
    this.#mounts = new MountStatfs(() => ctx.kernel, ctx.options.mountTimeoutMs);
    ctx.signal.addEventListener('abort', () => this.#life.abort(ctx.signal.reason), { once: true });
  }

  async open(): Promise<void> {
    const { sysfs } = this.ctx;
    if (this.#life.signal.aborted && !this.ctx.signal.aborted) this.#life = new AbortController();
    this.#zone = undefined;
    this.#throttledAt = this.ctx.options.throttling ? await throttledPath(sysfs) : undefined;
    this.#model = await boardModel(sysfs);
    this.#last = undefined;
    await this.#sample();
    // Closed (or the agent stopping) while that first read waited on a mount: no poll for a closed device.
    if (this.#life.signal.aborted) return;
    this.#poll = this.ctx.poll('read', this.ctx.options.readMs, () => this.#sample(), {
      timeoutMs: Math.max(30_000, this.ctx.options.readMs),
    });
  }

  async close(): Promise<void> {
    this.#poll?.stop();
    this.#poll = undefined;
    this.#life.abort(new Error('the device closed'));
  }

  state(): HostState {
    return this.#state;
  }

  /** `get`: read everything now. */
  async get(): Promise<HostState> {
    await this.#sample();
    return this.#state;
  }

  #empty(): HostState {
    const o = this.ctx.options;
    return {
      model: null,
      bootTime: null,
      ts: null,
      cpu: { temperature: null, zone: null, usagePercent: null, load1: null, load5: null, load15: null, frequencyMHz: null },
      throttled: null,
      memory: { totalBytes: null, availableBytes: null, usedPercent: null },
      disks: Object.fromEntries(o.mounts.map((m) => [m, none()])),
      network: Object.fromEntries(o.interfaces.map((i) => [i, { rxBytesPerS: null, txBytesPerS: null, rxBytes: null, txBytes: null }])),
      wifi: Object.fromEntries(o.wifi.map((i) => [i, { signalDbm: null, quality: null }])),
    };
  }

  /**
   * The CPU's zone, looked for again on each read until found: a thermal
   * driver may bind after the agent started. A configured zone that is not
   * there fails the item (ENOENT listing the zones), a typo is not a silent null.
   */
  async #cpuZone(): Promise<ThermalZone | undefined> {
    const want = this.ctx.options.zone;
    this.#zone ??= want !== undefined ? await findZone(this.ctx.sysfs, want) : cpuZone(await thermalZones(this.ctx.sysfs));
    return this.#zone;
  }

  /**
   * One item's read: its value, or undefined with a `read_failed` event when it fails anew.
   * A read that ends after the device closed (`life` aborted) tells nothing.
   */
  async #item<T>(what: string, read: () => Promise<T>, life: AbortSignal): Promise<T | undefined> {
    try {
      const v = await read();
      if (life.aborted) return undefined;
      if (this.#failing.delete(what)) this.ctx.emit('read_ok', { what });
      return v;
    } catch (e) {
      if (life.aborted) return undefined;
      const error = toErrorBody(e);
      const key = JSON.stringify(error);
      if (this.#failing.get(what) !== key) {
        this.#failing.set(what, key);
        this.ctx.log.warn({ what, error }, 'host read failed');
        this.ctx.emit('read_failed', { what, error });
      }
      return undefined;
    }
  }

  async #sample(): Promise<void> {
    const { procfs, sysfs, options: o } = this.ctx;
    const life = this.#life.signal;
    const item = <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => this.#item(what, read, life);
    const at = Date.now();
    const temp = await item('cpu.temperature', async () => {
      const z = await this.#cpuZone();
      return z ? sysfs.number(`class/thermal/${z.zone}/temp`) : undefined;
    });
    const zone = this.#zone;
    const load = await item('cpu.load', async () => parseLoadavg(await procfs.read('loadavg')));
    const stat = await item('cpu.usage', async () => parseStat(await procfs.read('stat')));
    const khz = await item('cpu.frequency', async () =>
      (await sysfs.exists('devices/system/cpu/cpufreq/policy0/scaling_cur_freq'))
        ? sysfs.number('devices/system/cpu/cpufreq/policy0/scaling_cur_freq')
        : undefined,
    );
    const throttledAt = this.#throttledAt;
    const throttled = throttledAt ? await item('throttled', async () => decodeThrottled(await sysfs.read(throttledAt))) : undefined;
    const memory = await item('memory', async () => parseMeminfo(await procfs.read('meminfo')));
    // All mounts at once: hung ones cost one bound between them, not one each.
    const disks: HostState['disks'] = Object.fromEntries(
      await Promise.all(
        o.mounts.map(
          async (m) => [m, (await item(`disk ${m}`, async () => usageOf(await this.#mounts.statfs(m, life)))) ?? none()] as const,
        ),
      ),
    );
    const net =
      (await item('network', async () => parseNetDev(await procfs.read('net/dev')))) ?? new Map<string, { rx: number; tx: number }>();
    // No /proc/net/wireless at all is a kernel without wireless extensions (or no Wi-Fi driver): no reading, no error.
    const wireless = o.wifi.length
      ? await item('wifi', async () =>
          (await procfs.exists('net/wireless')) ? parseWireless(await procfs.read('net/wireless')) : new Map<string, never>(),
        )
      : undefined;

    // Closed while a mount held the read up: what was read is dropped, nothing is published after the close.
    if (life.aborted) return;
    const last = this.#last;
    const seconds = last ? (at - last.at) / 1000 : 0;
    // A rate over a few milliseconds (a get right after a poll) is noise: under a second, the last rates stand.
    const fresh = last === undefined || seconds >= MIN_RATE_S;
    const previous = this.#state;
    const network: HostState['network'] = {};
    // A driver's own counters are the kernel's unsigned long (readings.ts counterDelta).
    const bits = (this.ctx.kernel.kernelArch ?? kernelArch()).longSize === 4 ? 32 : 64;
    for (const i of o.interfaces) {
      const now = net.get(i);
      const before = last?.net.get(i);
      const kept = previous.network[i];
      network[i] = {
        rxBytesPerS: !now ? null : fresh ? (rate(before?.rx, now.rx, seconds, bits) ?? null) : (kept?.rxBytesPerS ?? null),
        txBytesPerS: !now ? null : fresh ? (rate(before?.tx, now.tx, seconds, bits) ?? null) : (kept?.txBytesPerS ?? null),
        rxBytes: now?.rx ?? null,
        txBytes: now?.tx ?? null,
      };
    }
    const usagePercent = fresh ? (cpuPercent(last?.cpu, stat?.cpu) ?? null) : previous.cpu.usagePercent;
    if (fresh) this.#last = { at, cpu: stat?.cpu, net };
    this.#state = {
      model: this.#model ?? null,
      bootTime: stat?.btime !== undefined ? new Date(stat.btime * 1000).toISOString() : null,
      ts: at,
      cpu: {
        temperature: temp !== undefined ? temp / 1000 : null,
        zone: zone ? (zone.type ?? zone.zone) : null,
        usagePercent,
        load1: load?.load1 ?? null,
        load5: load?.load5 ?? null,
        load15: load?.load15 ?? null,
        frequencyMHz: khz !== undefined ? Math.round(khz / 1000) : null,
      },
      throttled: (throttled satisfies Throttled | undefined) ?? null,
      memory: memory ?? { totalBytes: null, availableBytes: null, usedPercent: null },
      disks,
      network,
      wifi: Object.fromEntries(
        o.wifi.map((i) => {
          const w = wireless?.get(i);
          return [i, { signalDbm: w?.signalDbm ?? null, quality: w?.quality ?? null }];
        }),
      ),
    };
    this.ctx.stateChanged();
  }
}
