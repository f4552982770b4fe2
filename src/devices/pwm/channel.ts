/**
 * One PWM channel on the sysfs interface (Documentation/driver-api/pwm.rst,
 * ABI sysfs-class-pwm): `class/pwm/pwmchipN` holds `npwm`, `export` and
 * `unexport`; writing a channel number to `export` makes the kernel create
 * `pwmM/` with `period`, `duty_cycle` (ns, ≤ period), `polarity` (`normal` or
 * `inversed`) and `enable`. Every write is applied as a whole new state, and
 * the core refuses a state whose period is 0 or whose duty cycle exceeds the
 * period (EINVAL): so `changeTo` orders the writes — period first when the
 * current duty cycle fits in the new period, duty cycle first when it does
 * not — and changes the polarity only while the output is disabled, which
 * many drivers require.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KernelError } from '../../kernel/errors.js';
import type { Sysfs } from '../../kernel/sysfs.js';

export type Polarity = 'normal' | 'inversed';

export interface PwmReading {
  readonly enabled: boolean;
  readonly periodNs: number;
  readonly dutyNs: number;
  readonly polarity: Polarity;
}

export type PwmTarget = Partial<PwmReading>;

const CLASS = 'class/pwm';
const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** `pwmchipN` for a number or a chip name; else the chip whose parent device has that name (`fe20c000.pwm`). */
export async function findChip(sysfs: Sysfs, chip: string | number): Promise<string> {
  if (typeof chip === 'number') return `pwmchip${chip}`;
  if (/^pwmchip\d+$/.test(chip)) return chip;
  const names = await sysfs.list(CLASS).catch(() => []);
  const found: string[] = [];
  for (const name of names) {
    const device = await sysfs.readlink(`${CLASS}/${name}/device`).then(basename, () => undefined);
    if (device === chip) return name;
    found.push(device ? `${name} (${device})` : name);
  }
  throw new Error(`no PWM chip's device is named '${chip}'; found ${found.join(', ') || 'none'} under ${sysfs.path(CLASS)}`);
}

export class PwmChannel {
  readonly chipDir: string;
  readonly dir: string;

  constructor(
    private readonly sysfs: Sysfs,
    readonly chip: string,
    readonly channel: number,
  ) {
    this.chipDir = `${CLASS}/${chip}`;
    this.dir = `${this.chipDir}/pwm${channel}`;
  }

  /** The chip's channel count; ENOENT while the chip is not there (its driver not loaded). */
  npwm(): Promise<number> {
    return this.sysfs.number(`${this.chipDir}/npwm`);
  }

  exported(): Promise<boolean> {
    return this.sysfs.exists(this.dir);
  }

  /**
   * Exports the channel and waits up to `timeoutMs` for `pwmM/` to be there
   * and writable (the kernel creates it at once; udev may need a moment to
   * hand its files to the gpio group: EACCES until then). EBUSY from the
   * kernel means a driver holds the channel (pwm-fan, a backlight) — or it was
   * exported meanwhile, which is fine.
   */
  async export(timeoutMs: number): Promise<void> {
    try {
      await this.sysfs.write(`${this.chipDir}/export`, String(this.channel));
    } catch (e) {
      if (!(e instanceof KernelError && e.code === 'EBUSY') || !(await this.exported())) {
        if (e instanceof KernelError && e.code === 'EBUSY')
          e.message += ` (channel ${this.channel} of ${this.chip} is held by a kernel driver: pwm-fan, a backlight …)`;
        throw e;
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.sysfs.access(`${this.dir}/period`, 'write');
        return;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code !== 'ENOENT' && code !== 'EACCES') || Date.now() > deadline) throw e;
        await sleep(10);
      }
    }
  }

  async read(): Promise<PwmReading> {
    const [enable, periodNs, dutyNs, polarity] = await Promise.all([
      this.sysfs.number(`${this.dir}/enable`),
      this.sysfs.number(`${this.dir}/period`),
      this.sysfs.number(`${this.dir}/duty_cycle`),
      this.sysfs.value(`${this.dir}/polarity`),
    ]);
    return { enabled: enable === 1, periodNs, dutyNs, polarity: polarity === 'inversed' ? 'inversed' : 'normal' };
  }

  /** Moves the channel from `now` to `target` in writes the kernel accepts one by one. */
  async changeTo(now: PwmReading, target: PwmTarget): Promise<void> {
    const polarity = target.polarity ?? now.polarity;
    const periodNs = target.periodNs ?? now.periodNs;
    const dutyNs = target.dutyNs ?? now.dutyNs;
    const enabled = target.enabled ?? now.enabled;
    let on = now.enabled;
    if (polarity !== now.polarity) {
      if (on) await this.#write('enable', '0');
      on = false;
      await this.#write('polarity', polarity);
    }
    if (periodNs !== now.periodNs) {
      if (periodNs >= now.dutyNs) {
        await this.#write('period', String(periodNs));
        if (dutyNs !== now.dutyNs) await this.#write('duty_cycle', String(dutyNs));
      } else {
        await this.#write('duty_cycle', String(dutyNs));
        await this.#write('period', String(periodNs));
      }
    } else if (dutyNs !== now.dutyNs) {
      await this.#write('duty_cycle', String(dutyNs));
    }
    if (enabled !== on) await this.#write('enable', enabled ? '1' : '0');
  }

  #write(attr: string, value: string): Promise<void> {
    return this.sysfs.write(`${this.dir}/${attr}`, value);
  }
}
