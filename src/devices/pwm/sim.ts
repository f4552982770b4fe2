/**
 * A pwmchip as a model on the sim sysfs, for `sim: true` and the conformance
 * suite; it answers as drivers/pwm/core.c does (its sysfs part):
 *  - npwm: read-only; export/unexport: write-only (kernfs: EACCES otherwise);
 *  - export N: not a number → EINVAL; N ≥ npwm → ENODEV; a channel already
 *    exported, or held by a kernel driver (claim()), → EBUSY; else `pwmN/`
 *    appears with period, duty_cycle, enable, polarity and capture;
 *  - unexport N: EINVAL / ENODEV as export, and ENODEV when N is not
 *    exported; `pwmN/` goes (a call in flight on it ends in ENODEV) and the
 *    channel keeps its hardware state, as the core's pwm_put does;
 *  - every write applies a whole new state (pwm_apply_might_sleep): a period
 *    of 0 or a duty cycle above the period is EINVAL, and so is `inversed`
 *    on a chip without polarity support; enable takes 0 or 1 only;
 *  - capture: ENOSYS (no capture support), as most chips answer.
 * A new channel starts as a driver without get_state() leaves it: period 0,
 * duty 0, disabled, normal polarity.
 */
import { SimErrno, SimSysfs, storedText, storedUnsigned } from '../../kernel/sysfs-sim.js';
import type { SimContext, SimParts } from '../kind.js';
import type { Polarity } from './channel.js';
import type { PwmOptions } from './device.js';

export interface SimPwmChannel {
  periodNs: number;
  dutyNs: number;
  enabled: boolean;
  polarity: Polarity;
  exported: boolean;
  /** A kernel driver that requested the channel (pwm-fan …): export is EBUSY. */
  heldBy: string | undefined;
  /** How many states the channel has been given (a fade's steps). */
  applied: number;
}

export interface SimPwmChipConfig {
  /** `pwmchip0`. */
  readonly name: string;
  /** The parent platform device (`fe20c000.pwm`, a Raspberry Pi 4's). */
  readonly device: string;
  readonly npwm: number;
  /** Whether the chip can invert its output (polarity `inversed`). */
  readonly inversed: boolean;
}

export class SimPwmChip {
  readonly channels: SimPwmChannel[];
  /** Where the chip lives: `devices/platform/soc/fe20c000.pwm/pwm/pwmchip0`. */
  readonly dir: string;

  constructor(
    readonly tree: SimSysfs,
    readonly config: SimPwmChipConfig,
  ) {
    const parent = `devices/platform/soc/${config.device}`;
    this.dir = `${parent}/pwm/${config.name}`;
    this.channels = Array.from({ length: config.npwm }, () => ({
      periodNs: 0,
      dutyNs: 0,
      enabled: false,
      polarity: 'normal',
      exported: false,
      heldBy: undefined,
      applied: 0,
    }));
    tree.mkdir(parent);
    tree.link(`bus/platform/devices/${config.device}`, `../../../${parent}`);
    tree.link(`${this.dir}/device`, `../../../${config.device}`);
    tree.link(`class/pwm/${config.name}`, `../../${this.dir}`);
    tree.attr(`${this.dir}/npwm`, { show: () => `${config.npwm}\n` });
    tree.attr(`${this.dir}/export`, { store: (v) => this.#export(this.#index(v)) });
    tree.attr(`${this.dir}/unexport`, { store: (v) => this.#unexport(this.#index(v)) });
  }

  /** A kernel driver requests the channel (a pwm-fan node in the device tree); undefined releases it. */
  claim(channel: number, consumer: string | undefined): void {
    const ch = this.channels[channel];
    if (ch) ch.heldBy = consumer;
  }

  #index(value: string): number {
    const n = storedUnsigned(value);
    if (n >= this.config.npwm) throw new SimErrno('ENODEV');
    return n;
  }

  #export(n: number): void {
    const ch = this.channels[n] as SimPwmChannel;
    if (ch.exported || ch.heldBy) throw new SimErrno('EBUSY');
    ch.exported = true;
    const dir = `${this.dir}/pwm${n}`;
    const apply = (next: Partial<SimPwmChannel>): void => this.#apply(ch, next);
    this.tree.attr(`${dir}/period`, { show: () => `${ch.periodNs}\n`, store: (v) => apply({ periodNs: storedUnsigned(v) }) });
    this.tree.attr(`${dir}/duty_cycle`, { show: () => `${ch.dutyNs}\n`, store: (v) => apply({ dutyNs: storedUnsigned(v) }) });
    this.tree.attr(`${dir}/enable`, {
      show: () => `${ch.enabled ? 1 : 0}\n`,
      store: (v) => {
        const e = storedText(v);
        if (e !== '0' && e !== '1') throw new SimErrno('EINVAL');
        apply({ enabled: e === '1' });
      },
    });
    this.tree.attr(`${dir}/polarity`, {
      show: () => `${ch.polarity}\n`,
      store: (v) => {
        const p = storedText(v);
        if (p !== 'normal' && p !== 'inversed') throw new SimErrno('EINVAL');
        apply({ polarity: p });
      },
    });
    this.tree.attr(`${dir}/capture`, {
      show: () => {
        throw new SimErrno('ENOSYS');
      },
    });
  }

  #unexport(n: number): void {
    const ch = this.channels[n] as SimPwmChannel;
    if (!ch.exported) throw new SimErrno('ENODEV');
    ch.exported = false;
    this.tree.remove(`${this.dir}/pwm${n}`);
  }

  #apply(ch: SimPwmChannel, change: Partial<SimPwmChannel>): void {
    const next = { ...ch, ...change };
    if (next.periodNs === 0 || next.dutyNs > next.periodNs) throw new SimErrno('EINVAL');
    if (next.polarity === 'inversed' && !this.config.inversed) throw new SimErrno('EINVAL');
    if (next.periodNs === ch.periodNs && next.dutyNs === ch.dutyNs && next.enabled === ch.enabled && next.polarity === ch.polarity) return;
    Object.assign(ch, change, { applied: ch.applied + 1 });
  }
}

/** The chip a sim device asks for: its name or number, or a device name, with channels enough for the one configured. */
export function simChipConfig(o: Pick<PwmOptions, 'chip' | 'channel' | 'simChannels' | 'simInversed'>): SimPwmChipConfig {
  const named = typeof o.chip === 'number' ? `pwmchip${o.chip}` : /^pwmchip\d+$/.test(o.chip) ? o.chip : undefined;
  return {
    name: named ?? 'pwmchip0',
    device: named === undefined ? String(o.chip) : 'fe20c000.pwm',
    npwm: Math.max(o.simChannels ?? 2, o.channel + 1),
    inversed: o.simInversed ?? true,
  };
}

export function pwmSim(ctx: SimContext<PwmOptions>): SimParts & { chip: SimPwmChip } {
  const tree = new SimSysfs('/sys');
  return { sysfs: tree, chip: new SimPwmChip(tree, simChipConfig(ctx.options)) };
}
