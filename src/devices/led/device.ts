/**
 * One LED, `class/leds/NAME` on the device's sysfs (the real one under
 * `sysfsRoot`, or the LED class model with `sim`): reads its attributes into
 * a cached state (state() must be cheap), changes them on command, re-reads
 * them every `pollMs` (triggers change the LED behind our back), and treats a
 * refused or missing attribute as the device being lost, so the agent marks
 * it offline and reopens it until the LED is back (open() probes, and fails
 * while it is missing or read-only).
 */
import type { Sysfs } from '../../kernel/sysfs.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { CommandError } from '../errors.js';
import { parseTriggers } from './triggers.js';

export interface LedOptions {
  readonly name: string;
  readonly sysfsRoot: string;
  readonly pollMs: number;
  readonly maxBrightness?: number;
  readonly effects?: string[];
  readonly triggers?: string[];
}

export interface LedState {
  readonly name: string;
  /** ON when lit or when a trigger is in charge of it. */
  readonly state: 'ON' | 'OFF';
  readonly brightness: number;
  readonly maxBrightness: number;
  readonly trigger: string;
  readonly triggers: readonly string[];
  /** The trigger again, under the key Home Assistant's JSON light reads. */
  readonly effect: string;
  readonly delayOnMs?: number;
  readonly delayOffMs?: number;
}

/** What `set` asks for once its payload forms are read (kind.ts). */
export interface LedChange {
  readonly on: boolean;
  readonly brightness?: number;
  readonly effect?: string;
}

/**
 * errnos after which the LED cannot be used as configured: gone (ENOENT, ENODEV,
 * ENXIO), refused (EACCES, EPERM, EINVAL) or failing (EIO).
 */
export type LedAttribute = 'brightness' | 'max_brightness' | 'trigger' | 'delay_on' | 'delay_off';
type Step = readonly [LedAttribute, string];

/** An LED's directory relative to the sysfs root. */
export const ledDir = (name: string): string => `class/leds/${name}`;

const LOST = new Set(['ENOENT', 'ENODEV', 'ENXIO', 'EACCES', 'EPERM', 'EINVAL', 'EIO']);

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function sameState(a: LedState, b: LedState | undefined): boolean {
  return (
    b !== undefined &&
    a.brightness === b.brightness &&
    a.maxBrightness === b.maxBrightness &&
    a.trigger === b.trigger &&
    a.delayOnMs === b.delayOnMs &&
    a.delayOffMs === b.delayOffMs &&
    a.triggers.join() === b.triggers.join()
  );
}

export class LedDevice implements Device {
  /** The LED's directory, relative to the sysfs root. */
  readonly dir: string;
  #state: LedState | undefined;
  #poll: Poll | undefined;
  /** Only an open LED is reported lost; a failing open() says so by throwing. */
  #open = false;

  constructor(private readonly ctx: DeviceContext<LedOptions>) {
    this.dir = ledDir(ctx.options.name);
  }

  /** The tree the LED lives in (the sim's, for tests and the demo to unplug it). */
  get sysfs(): Sysfs {
    return this.ctx.sysfs;
  }

  async open(): Promise<void> {
    // W_OK on brightness is what a Pi without the udev rule lacks (EACCES).
    await this.sysfs.access(`${this.dir}/brightness`, 'write');
    await this.refresh();
    this.#open = true;
    const every = this.ctx.options.pollMs;
    if (every > 0) this.#poll = this.ctx.poll('poll', every, () => this.refresh());
  }

  async close(): Promise<void> {
    this.#open = false;
    this.#poll?.stop();
    this.#poll = undefined;
  }

  state(): Record<string, unknown> {
    // Never read yet (missing, unreadable): `state: null` is "unknown" to Home Assistant's JSON light, which needs the key.
    return { ...(this.#state ?? { name: this.ctx.options.name, state: null }) };
  }

  /** Re-reads every attribute; publishes the state if it changed. */
  refresh(): Promise<LedState> {
    return this.#guard(async () => {
      const [brightness, maxBrightness, triggerText] = await Promise.all([
        this.#readNumber('brightness'),
        this.#readNumber('max_brightness'),
        this.sysfs.read(`${this.dir}/trigger`),
      ]);
      const t = parseTriggers(triggerText);
      const delays =
        t.selected === 'timer' ? { delayOnMs: await this.#readNumber('delay_on'), delayOffMs: await this.#readNumber('delay_off') } : {};
      const next: LedState = {
        name: this.ctx.options.name,
        state: brightness > 0 || t.selected !== 'none' ? 'ON' : 'OFF',
        brightness,
        maxBrightness,
        trigger: t.selected,
        triggers: t.available,
        effect: t.selected,
        ...delays,
      };
      const changed = !sameState(next, this.#state);
      this.#state = next;
      if (changed) this.ctx.stateChanged();
      return next;
    });
  }

  /**
   * OFF writes brightness 0 (the kernel drops any trigger with it). ON alone
   * means steady on: an active trigger is removed, then max_brightness. A
   * brightness alone is written as is (a blinking trigger keeps blinking at
   * that level). An effect selects that trigger first.
   */
  async set(change: LedChange): Promise<LedState> {
    // The cached state decides the steps (which trigger runs, the maximum); polling and the
    // re-read after every write keep it current, so a set costs one write and one read-back.
    const current = this.#state ?? (await this.refresh());
    if (!change.on) return this.#write([['brightness', '0']]);
    const level = (b: number | undefined): string => String(Math.min(b ?? current.maxBrightness, current.maxBrightness));
    if (change.effect !== undefined) {
      this.#requireTrigger(change.effect, current);
      const steps: Step[] = [['trigger', change.effect]];
      // Leaving a trigger turns the LED off, so `none` needs its brightness again.
      if (change.effect === 'none' || change.brightness !== undefined) steps.push(['brightness', level(change.brightness)]);
      return this.#write(steps);
    }
    if (change.brightness !== undefined) return this.#write([['brightness', level(change.brightness)]]);
    const steps: Step[] = current.trigger === 'none' ? [] : [['trigger', 'none']];
    steps.push(['brightness', level(undefined)]);
    return this.#write(steps);
  }

  async setTrigger(name: string): Promise<LedState> {
    this.#requireTrigger(name, await this.refresh());
    return this.#write([['trigger', name]]);
  }

  /** The timer trigger with its delays; a brightness sets the on-level of the blink. */
  async blink(onMs: number, offMs: number, brightness: number | undefined): Promise<LedState> {
    const current = await this.refresh();
    if (!current.triggers.includes('timer')) {
      throw new CommandError(
        'device_error',
        `LED '${current.name}' offers no timer trigger (CONFIG_LEDS_TRIGGER_TIMER / modprobe ledtrig-timer)`,
        { triggers: current.triggers },
      );
    }
    // Re-selecting timer would reset a running blink; only switch when it is not on yet.
    const steps: Step[] = current.trigger === 'timer' ? [] : [['trigger', 'timer']];
    steps.push(['delay_on', String(onMs)], ['delay_off', String(offMs)]);
    if (brightness !== undefined) steps.push(['brightness', String(Math.min(Math.max(brightness, 1), current.maxBrightness))]);
    return this.#write(steps);
  }

  #requireTrigger(name: string, current: LedState): void {
    if (!current.triggers.includes(name)) {
      throw new CommandError('bad_args', `LED '${current.name}' has no trigger '${name}'; valid: ${current.triggers.join(', ')}`, {
        valid: current.triggers,
      });
    }
  }

  async #write(steps: readonly Step[]): Promise<LedState> {
    await this.#guard(async () => {
      for (const [attr, value] of steps) await this.sysfs.write(`${this.dir}/${attr}`, value);
    });
    return this.refresh();
  }

  #readNumber(attr: LedAttribute): Promise<number> {
    return this.sysfs.number(`${this.dir}/${attr}`);
  }

  /** Runs fs work; an errno that means "this LED cannot be used now" also tells the agent it is lost. */
  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      const errno = errnoOf(e);
      if (this.#open && errno && LOST.has(errno)) this.ctx.lost(e as Error);
      throw e;
    }
  }
}
