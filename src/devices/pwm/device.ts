/**
 * One PWM channel as a device. open() finds the chip, exports the channel if
 * nobody has (and waits for `pwmM/`), then applies the configured period and
 * polarity, keeping the duty cycle's share of the period; it never switches
 * the output on or off, so an agent restart does not blink a light. The
 * channel stays exported when the device closes, for the same reason.
 *
 * Off is duty cycle 0 with the output still enabled: pwm.rst says a disabled
 * PWM's output level is not guaranteed, while duty 0 enabled is the inactive
 * level. `off` the command also disables the output (releases it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError } from '../errors.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { findChip, PwmChannel, type Polarity, type PwmReading, type PwmTarget } from './channel.js';

export interface PwmOptions {
  readonly chip: string | number;
  readonly channel: number;
  readonly periodNs: number;
  readonly polarity?: Polarity | undefined;
  readonly sysfsRoot: string;
  readonly pollMs: number;
  readonly exportTimeoutMs: number;
  readonly fadeStepMs: number;
  readonly haEntity: 'light' | 'number';
  readonly simChannels?: number | undefined;
  readonly simInversed?: boolean | undefined;
}

/** What `set` asks for once its payload forms are read (kind.ts): a level, or on/off at the last level. */
export interface PwmChange {
  readonly on: boolean;
  readonly percent?: number;
  readonly dutyNs?: number;
  readonly transitionMs?: number;
}

/** errnos after which the channel cannot be used as configured: gone, unexported behind our back, refused, failing. */
const LOST = new Set(['ENOENT', 'ENODEV', 'ENXIO', 'EACCES', 'EPERM', 'EIO']);
/** A fade publishes its progress as state at most this often (and at its end). */
const FADE_STATE_MS = 1000;

const round2 = (n: number): number => Math.round(n * 100) / 100;

export class PwmDevice implements Device {
  #channel: PwmChannel | undefined;
  #now: PwmReading | undefined;
  /** The share of the period the output had when last on: what ON goes back to (full on the first time). */
  #onShare = 1;
  #poll: Poll | undefined;
  #open = false;

  constructor(private readonly ctx: DeviceContext<PwmOptions>) {}

  get channel(): PwmChannel {
    if (!this.#channel) throw new CommandError('unavailable', `${this.ctx.id}: the PWM channel is not open`);
    return this.#channel;
  }

  async open(): Promise<void> {
    const o = this.ctx.options;
    const channel = new PwmChannel(this.ctx.sysfs, await findChip(this.ctx.sysfs, o.chip), o.channel);
    const npwm = await channel.npwm();
    if (o.channel >= npwm) throw new Error(`${channel.chip} has ${npwm} channel(s), 0…${npwm - 1}: there is no channel ${o.channel}`);
    if (!(await channel.exported())) await channel.export(o.exportTimeoutMs);
    this.#channel = channel;
    const now = await channel.read();
    const dutyNs = now.periodNs > 0 ? Math.round((now.dutyNs * o.periodNs) / now.periodNs) : 0;
    await channel.changeTo(now, {
      periodNs: o.periodNs,
      dutyNs: Math.min(dutyNs, o.periodNs),
      ...(o.polarity ? { polarity: o.polarity } : {}),
    });
    await this.refresh();
    this.#open = true;
    if (o.pollMs > 0) this.#poll = this.ctx.poll('poll', o.pollMs, () => this.refresh(), { idleOnly: true });
  }

  async close(): Promise<void> {
    this.#open = false;
    this.#poll?.stop();
    this.#poll = undefined;
  }

  state(): Record<string, unknown> {
    const o = this.ctx.options;
    const n = this.#now;
    if (!n) return { state: null, chip: this.#channel?.chip ?? String(o.chip), channel: o.channel };
    const percent = n.periodNs > 0 ? round2((n.dutyNs / n.periodNs) * 100) : 0;
    return {
      // HA's JSON light reads state and brightness (its scale is 100: a percentage).
      state: n.enabled && n.dutyNs > 0 ? 'ON' : 'OFF',
      brightness: Math.round(percent),
      enabled: n.enabled,
      periodNs: n.periodNs,
      dutyNs: n.dutyNs,
      percent,
      polarity: n.polarity,
      frequencyHz: n.periodNs > 0 ? round2(1e9 / n.periodNs) : null,
      chip: this.channel.chip,
      channel: o.channel,
    };
  }

  /** Re-reads the channel; publishes the state if it changed. */
  refresh(): Promise<Record<string, unknown>> {
    return this.#guard(async () => {
      const next = await this.channel.read();
      const before = this.#now;
      this.#now = next;
      if (next.enabled && next.dutyNs > 0 && next.periodNs > 0) this.#onShare = next.dutyNs / next.periodNs;
      const same =
        before?.enabled === next.enabled &&
        before.periodNs === next.periodNs &&
        before.dutyNs === next.dutyNs &&
        before.polarity === next.polarity;
      if (!same) this.ctx.stateChanged();
      return this.state();
    });
  }

  async set(change: PwmChange, signal: AbortSignal): Promise<Record<string, unknown>> {
    const now = await this.#current();
    let dutyNs: number;
    if (change.dutyNs !== undefined) {
      if (change.dutyNs > now.periodNs) {
        throw new CommandError('bad_args', `dutyNs ${change.dutyNs} is above the period, ${now.periodNs} ns`, { periodNs: now.periodNs });
      }
      dutyNs = change.dutyNs;
    } else if (change.percent !== undefined) dutyNs = this.#dutyOf(change.percent, now);
    else dutyNs = change.on ? Math.round(this.#onShare * now.periodNs) : 0;
    if (!change.on) dutyNs = 0;
    if (change.transitionMs) return this.fade((dutyNs / now.periodNs) * 100, change.transitionMs, signal);
    return this.#apply(now, { dutyNs, ...(dutyNs > 0 ? { enabled: true } : {}) });
  }

  /** Duty cycle 0, then the output disabled: released to the driver's idea of idle. */
  async off(): Promise<Record<string, unknown>> {
    return this.#apply(await this.#current(), { dutyNs: 0, enabled: false });
  }

  /**
   * Moves the duty cycle to `toPercent` over `ms` in steps every fadeStepMs,
   * on timers: the agent runs on between steps. A step that comes late (a
   * slow bus) is skipped over rather than stretching the fade. Aborted (its
   * timeout, a shutdown), it stops where it is.
   */
  async fade(toPercent: number, ms: number, signal: AbortSignal): Promise<Record<string, unknown>> {
    let now = await this.#current();
    const from = now.enabled ? now.dutyNs : 0;
    const to = this.#dutyOf(toPercent, now);
    if (!now.enabled && to > 0) now = await this.#step(now, { dutyNs: 0, enabled: true });
    const steps = Math.max(1, Math.round(ms / this.ctx.options.fadeStepMs));
    const started = performance.now();
    let published = started;
    let done = 0;
    while (done < steps && !signal.aborted) {
      const wait = started + ((done + 1) * ms) / steps - performance.now();
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) break;
      // Late: go straight to where the fade should be by now.
      done = Math.min(steps, Math.max(done + 1, Math.floor(((performance.now() - started) / ms) * steps)));
      now = await this.#step(now, { dutyNs: Math.round(from + ((to - from) * done) / steps) });
      if (performance.now() - published >= FADE_STATE_MS) {
        published = performance.now();
        this.ctx.stateChanged();
      }
    }
    const result = await this.refresh();
    // The steps moved the cached state along with the channel, so the read-back finds nothing new: say so here.
    this.ctx.stateChanged();
    if (signal.aborted) throw new CommandError('canceled', `the fade stopped at ${String(result.percent)} %`, { state: result });
    return result;
  }

  #dutyOf(percent: number, now: PwmReading): number {
    return Math.round((now.periodNs * percent) / 100);
  }

  async #current(): Promise<PwmReading> {
    if (!this.#now) await this.refresh();
    if (!this.#now) throw new CommandError('unavailable', `${this.ctx.id}: the PWM channel could not be read`);
    return this.#now;
  }

  /** One change without the read-back (a fade step); what the channel holds afterwards. */
  async #step(now: PwmReading, target: PwmTarget): Promise<PwmReading> {
    await this.#guard(() => this.channel.changeTo(now, target));
    this.#now = { ...now, ...target };
    return this.#now;
  }

  async #apply(now: PwmReading, target: PwmTarget): Promise<Record<string, unknown>> {
    await this.#guard(() => this.channel.changeTo(now, target));
    return this.refresh();
  }

  /** Runs sysfs work; an errno that means "this channel cannot be used now" also tells the agent it is lost. */
  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      if (this.#open && typeof code === 'string' && LOST.has(code)) this.ctx.lost(e as Error);
      throw e;
    }
  }
}
