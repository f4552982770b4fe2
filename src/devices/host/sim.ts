/**
 * A sim node for `host` with `sim: true` (loaded only then): a Raspberry Pi 4
 * as its kernel shows itself — the SoC's `cpu-thermal` zone, the firmware
 * driver's `get_throttled` (hex, as the driver prints it), cpufreq in kHz,
 * the device tree's NUL-terminated `model`, and /proc's loadavg, stat (with
 * btime), meminfo, net/dev and net/wireless in their column layouts — whose
 * numbers move as a running machine's do: counters only grow, the
 * temperature and load drift, the SD card fills slowly. statfs answers from
 * SimMounts for each configured mount. A test changes any of it through the
 * returned `sys`, `proc` and `mounts`.
 */
import type { FsStats } from '../../kernel/statfs.js';
import { SimMounts } from '../../kernel/statfs-sim.js';
import { SimSysfs } from '../../kernel/sysfs-sim.js';
import type { SimContext, SimParts } from '../kind.js';
import type { HostOptions } from './device.js';

const BOOT = Math.floor(Date.now() / 1000) - 3 * 86_400;
const wave = (periodMs: number): number => Math.sin((2 * Math.PI * Date.now()) / periodMs);
/** Seconds since the sim "booted", for counters that grow with time. */
const up = (): number => Date.now() / 1000 - BOOT;

function procfs(o: HostOptions): SimSysfs {
  const p = new SimSysfs('/proc');
  p.attr('loadavg', { show: () => `${(0.5 + 0.3 * wave(300_000)).toFixed(2)} 0.58 0.59 1/467 12345\n` });
  p.attr('uptime', { show: () => `${up().toFixed(2)} ${(up() * 3.6).toFixed(2)}\n` });
  p.attr('stat', {
    show: () => {
      // 100 jiffies a second on 4 cores, about 12 % busy; the swing is slow enough that busy time only grows.
      const total = Math.floor(up() * 400);
      const busy = Math.floor(total * 0.12 + 200 * wave(120_000));
      return `cpu  ${busy} 0 0 ${total - busy} 0 0 0 0 0 0\nbtime ${BOOT}\nprocesses 54321\n`;
    },
  });
  p.attr('meminfo', {
    show: () => {
      const avail = Math.round(3_100_000 + 50_000 * wave(600_000));
      return `MemTotal:        3884180 kB\nMemFree:         2500000 kB\nMemAvailable:    ${avail} kB\nBuffers:           80000 kB\nCached:           600000 kB\n`;
    },
  });
  const ifaces = [...new Set(['lo', ...o.interfaces])];
  p.attr('net/dev', {
    show: () => {
      const head =
        'Inter-|   Receive                                                |  Transmit\n' +
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
      const line = (name: string, k: number): string => {
        const rx = Math.floor(up() * 2000 * k);
        const tx = Math.floor(up() * 500 * k);
        return `${name.padStart(6)}: ${rx} ${rx >> 10} 0 0 0 0 0 0 ${tx} ${tx >> 10} 0 0 0 0 0 0\n`;
      };
      return head + ifaces.map((n, i) => line(n, i + 1)).join('');
    },
  });
  p.attr('net/wireless', {
    show: () =>
      'Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n' +
      ' face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n' +
      o.wifi
        .map(
          (n) =>
            `${n.padStart(6)}: 0000   56.  ${Math.round(-54 + 3 * wave(60_000))}.  -256        0      0      0      0      0        0\n`,
        )
        .join(''),
  });
  p.file('mounts', o.mounts.map((m, i) => `/dev/mmcblk0p${i + 2} ${m.replace(/ /g, '\\040')} ext4 rw,noatime 0 0\n`).join(''));
  return p;
}

function sysfs(): SimSysfs {
  const s = new SimSysfs('/sys');
  const zone = 'devices/virtual/thermal/thermal_zone0';
  s.file(`${zone}/type`, 'cpu-thermal\n');
  s.attr(`${zone}/temp`, { show: () => `${Math.round(48_000 + 4_000 * wave(300_000))}\n` });
  s.link('class/thermal/thermal_zone0', `../../${zone}`);
  const fw = 'devices/platform/soc/soc:firmware';
  s.file(`${fw}/get_throttled`, '0\n');
  s.link('bus/platform/drivers/raspberrypi-firmware/soc:firmware', `../../../../${fw}`);
  s.attr('devices/system/cpu/cpufreq/policy0/scaling_cur_freq', { show: () => (wave(20_000) > 0 ? '1800000\n' : '600000\n') });
  s.file('firmware/devicetree/base/model', 'Raspberry Pi 4 Model B Rev 1.4 (sim)\0');
  return s;
}

/** The mounts of a sim node, filling by a block a second since they were made (a log that grows). */
class FillingMounts extends SimMounts {
  readonly #started = Date.now();
  readonly #base = { bfree: 5_400_000, bavail: 5_020_000 };

  constructor(at: readonly string[]) {
    super();
    // A 32 GB card about 30 % full.
    for (const m of at) this.mount(m, { blocks: 7_607_296, ...this.#base });
  }

  override async statfs(path: string): Promise<FsStats> {
    const s = await super.statfs(path);
    const grown = Math.floor((Date.now() - this.#started) / 1000);
    return { ...s, bfree: Math.max(0, s.bfree - grown), bavail: Math.max(0, s.bavail - grown) };
  }
}

export function hostSim(ctx: SimContext<HostOptions>): SimParts & { sys: SimSysfs; proc: SimSysfs; mounts: SimMounts } {
  const mounts = new FillingMounts(ctx.options.mounts);
  const sys = sysfs();
  const proc = procfs(ctx.options);
  return { kernel: mounts, sysfs: sys, procfs: proc, sys, proc, mounts };
}
