/**
 * The LED class driver as a model on the sim sysfs tree: `sim: true` LEDs
 * run on it, and so do the LED tests' recorded trees (modelRecordedLed).
 * It answers as drivers/leds/led-class.c, led-triggers.c and
 * ledtrig-timer.c do:
 *  - brightness: kstrtoul base 10 (junk is EINVAL), clamped to
 *    max_brightness; 0 also removes the trigger (brightness_store);
 *  - max_brightness: read-only (no store: EACCES on open for writing);
 *  - trigger: `none` or one of the listed names, else EINVAL; leaving a
 *    trigger turns the LED off; `timer` creates delay_on/delay_off (500 ms
 *    each, led_blink_set's default) and they go with it; `default-on` and
 *    the blinking triggers light the LED at max_brightness;
 *  - delay_on/delay_off: kstrtoul, and only while `timer` runs (else ENOENT).
 * A sim device keeps its LED's state across agent restarts (saved once when
 * the agent stops, never per command).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SimErrno, SimSysfs, storedText, storedUnsigned } from '../../kernel/sysfs-sim.js';
import type { SimContext, SimParts } from '../kind.js';
import type { LedOptions } from './device.js';
import { formatTriggers, parseTriggers, SIM_MAX_BRIGHTNESS, SIM_TRIGGERS } from './triggers.js';

const TIMER_DEFAULT_MS = 500;

export interface SimLedState {
  brightness: number;
  trigger: string;
  delayOn: number;
  delayOff: number;
}

export class SimLed {
  readonly state: SimLedState;
  readonly triggers: readonly string[];

  constructor(
    readonly tree: SimSysfs,
    /** The LED's directory in the tree (`devices/platform/leds/leds/ACT`). */
    readonly dir: string,
    readonly maxBrightness: number,
    triggers: readonly string[],
    initial: Partial<SimLedState> = {},
  ) {
    this.triggers = triggers.includes('none') ? triggers : ['none', ...triggers];
    this.state = { brightness: 0, trigger: 'none', delayOn: TIMER_DEFAULT_MS, delayOff: TIMER_DEFAULT_MS, ...initial };
    if (!this.triggers.includes(this.state.trigger)) this.state.trigger = 'none';
    this.state.brightness = Math.min(this.state.brightness, maxBrightness);
    tree.attr(`${dir}/brightness`, {
      show: () => `${this.state.brightness}\n`,
      store: (v) => {
        const n = storedUnsigned(v);
        if (n === 0) this.#select('none');
        this.state.brightness = Math.min(n, this.maxBrightness);
      },
    });
    tree.attr(`${dir}/max_brightness`, { show: () => `${this.maxBrightness}\n` });
    tree.attr(`${dir}/trigger`, {
      show: () => formatTriggers({ selected: this.state.trigger, available: this.triggers }),
      store: (v) => {
        const name = storedText(v);
        if (!this.triggers.includes(name)) throw new SimErrno('EINVAL');
        this.#select(name);
      },
    });
    if (this.state.trigger === 'timer') this.#timerAttributes(true);
  }

  #select(name: string): void {
    if (name === this.state.trigger) return;
    // led_trigger_set: deactivating the old trigger stops it and sets LED_OFF.
    if (this.state.trigger !== 'none') this.state.brightness = 0;
    if (this.state.trigger === 'timer') this.#timerAttributes(false);
    this.state.trigger = name;
    if (name === 'timer') {
      this.state.delayOn = TIMER_DEFAULT_MS;
      this.state.delayOff = TIMER_DEFAULT_MS;
      this.#timerAttributes(true);
    }
    if (name !== 'none' && this.state.brightness === 0) this.state.brightness = this.maxBrightness;
  }

  /** ledtrig-timer adds delay_on/delay_off to the LED's directory while it is active. */
  #timerAttributes(present: boolean): void {
    for (const key of ['delayOn', 'delayOff'] as const) {
      const rel = `${this.dir}/${key === 'delayOn' ? 'delay_on' : 'delay_off'}`;
      if (!present) this.tree.remove(rel);
      else
        this.tree.attr(rel, {
          show: () => `${this.state[key]}\n`,
          store: (v) => void (this.state[key] = storedUnsigned(v)),
        });
    }
  }
}

/** A recorded LED directory (a test's copy of a real one) taken over by the model, from the state it records. */
export async function modelRecordedLed(tree: SimSysfs, dir: string): Promise<SimLed> {
  const number = async (attr: string, fallback: number): Promise<number> => tree.number(`${dir}/${attr}`).catch(() => fallback);
  const t = parseTriggers(await tree.read(`${dir}/trigger`));
  const initial: Partial<SimLedState> = {
    brightness: await number('brightness', 0),
    trigger: t.selected,
    delayOn: await number('delay_on', TIMER_DEFAULT_MS),
    delayOff: await number('delay_off', TIMER_DEFAULT_MS),
  };
  const real = await tree.realpath(dir);
  const at = real.slice(tree.root.length + 1);
  return new SimLed(tree, at, await number('max_brightness', SIM_MAX_BRIGHTNESS), t.available, initial);
}

/** The kind's sim: one LED at class/leds/NAME, a link into devices/platform/leds as on a Raspberry Pi. */
export function ledSim(ctx: SimContext<LedOptions>): SimParts & { led: SimLed } {
  const o = ctx.options;
  const tree = new SimSysfs('/sys');
  const dir = `devices/platform/leds/leds/${o.name}`;
  tree.link(`class/leds/${o.name}`, `../../${dir}`);
  const saved = path.join(ctx.stateDir, 'sim-led.json');
  const led = new SimLed(tree, dir, o.maxBrightness ?? SIM_MAX_BRIGHTNESS, o.triggers ?? SIM_TRIGGERS, restore(saved));
  ctx.signal.addEventListener(
    'abort',
    () => {
      try {
        writeFileSync(saved, `${JSON.stringify(led.state)}\n`);
      } catch (e) {
        ctx.log.warn({ err: e }, 'the sim LED could not save its state');
      }
    },
    { once: true },
  );
  return { sysfs: tree, led };
}

function restore(file: string): Partial<SimLedState> {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<SimLedState>;
    return Object.fromEntries(Object.entries(s).filter(([, v]) => typeof v === 'number' || typeof v === 'string'));
  } catch {
    // A first start: the LED starts dark with no trigger.
    return {};
  }
}
