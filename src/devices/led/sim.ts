/**
 * `sim: true` for `led`: a model of one LED class device. It keeps a private
 * sysfs-like tree under the device's state dir (so `cat` works on it, and the
 * LED keeps its state across restarts, as a real one does), and answers
 * writes as drivers/leds/led-class.c, led-triggers.c and ledtrig-timer.c do:
 *  - brightness: a decimal, clamped to max_brightness; 0 also removes the
 *    trigger (brightness_store → led_trigger_remove); junk is EINVAL;
 *  - max_brightness: read-only (0444): opening it for writing is EACCES;
 *  - trigger: `none` or one of the listed names, else EINVAL; leaving a
 *    trigger turns the LED off; `timer` creates delay_on/delay_off (500 ms
 *    each, led_blink_setup's default) and removes them when it goes;
 *    `default-on` lights the LED at max_brightness;
 *  - delay_on/delay_off: exist only while `timer` is active (else ENOENT).
 * Tests reach the model through LedDevice.files to unplug it or to make the
 * "kernel" refuse a write (deny), which a root test process cannot get from
 * file permissions. A change the tree on disk cannot follow (a full or
 * read-only stateDir) fails with that errno and leaves the model as it was;
 * on such a disk from the start the LED still opens and reads.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { makeDir } from '../../make-dir.js';
import { KernelError } from '../../kernel/errors.js';
import { ledDir, type LedAttribute, type LedFiles } from './files.js';
import { formatTriggers, parseTriggers } from './triggers.js';

/** Roughly what a Raspberry Pi kernel offers every LED (built-in triggers). */
export const SIM_TRIGGERS = ['none', 'timer', 'oneshot', 'heartbeat', 'backlight', 'default-on', 'panic'] as const;

const TIMER_DEFAULT_MS = 500;

export interface SimLedConfig {
  readonly name: string;
  readonly maxBrightness: number;
  readonly triggers: readonly string[];
}

function unsignedOrUndefined(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

export class SimLed implements LedFiles {
  readonly dir: string;
  readonly #triggers: readonly string[];
  /** What the tree on disk holds now, so a change rewrites only the attributes it touched. */
  readonly #rendered = new Map<LedAttribute, string>();
  /** Open descriptors of the mirror's files: a change is one pwrite + ftruncate. */
  readonly #fds = new Map<LedAttribute, number>();
  #brightness = 0;
  #trigger = 'none';
  #delayOn = 0;
  #delayOff = 0;
  #present = true;
  readonly #denied = new Map<LedAttribute, string>();

  constructor(
    stateDir: string,
    readonly config: SimLedConfig,
  ) {
    this.dir = ledDir(path.join(stateDir, 'sys'), config.name);
    this.#triggers = config.triggers.includes('none') ? config.triggers : ['none', ...config.triggers];
    this.#restore();
    try {
      this.#render();
    } catch {
      // A full or read-only stateDir: the LED is there all the same (read from the model); the first
      // change that can be mirrored writes the whole tree, and a change that cannot fails with the errno.
    }
  }

  // ---- the LedFiles side: what the kind sees -------------------------------

  /** Answered from the model, as sysfs show() answers from the driver; the tree on disk mirrors it. */
  async read(attr: LedAttribute): Promise<string> {
    if (!this.#present) throw this.#error('ENOENT', 'open', attr);
    const text = this.#attribute(attr);
    if (text === undefined) throw this.#error('ENOENT', 'open', attr);
    return text.trim();
  }

  async write(attr: LedAttribute, value: string): Promise<void> {
    this.#check(attr);
    const before = { brightness: this.#brightness, trigger: this.#trigger, delayOn: this.#delayOn, delayOff: this.#delayOff };
    this.#apply(attr, value);
    try {
      this.#render();
    } catch (e) {
      // The mirror on disk could not follow (a full or read-only stateDir): the write did not happen.
      this.#brightness = before.brightness;
      this.#trigger = before.trigger;
      this.#delayOn = before.delayOn;
      this.#delayOff = before.delayOff;
      try {
        this.#render();
      } catch {
        // Rewriting files in place needs no new space; whatever is left over is rewritten by the next change.
      }
      throw e;
    }
  }

  #apply(attr: LedAttribute, value: string): void {
    switch (attr) {
      case 'brightness': {
        const n = unsignedOrUndefined(value);
        if (n === undefined) throw this.#error('EINVAL', 'write', attr);
        if (n === 0) this.#selectTrigger('none');
        this.#brightness = Math.min(n, this.config.maxBrightness);
        break;
      }
      case 'max_brightness':
        throw this.#error('EACCES', 'open', attr);
      case 'trigger': {
        const name = value.trim();
        if (!this.#triggers.includes(name)) throw this.#error('EINVAL', 'write', attr);
        this.#selectTrigger(name);
        break;
      }
      case 'delay_on':
      case 'delay_off': {
        if (this.#trigger !== 'timer') throw this.#error('ENOENT', 'open', attr);
        const n = unsignedOrUndefined(value);
        if (n === undefined) throw this.#error('EINVAL', 'write', attr);
        if (attr === 'delay_on') this.#delayOn = n;
        else this.#delayOff = n;
        break;
      }
    }
  }

  async probe(): Promise<void> {
    this.#check('brightness');
  }

  // ---- the model's controls, for tests and the demo --------------------------

  /** The LED goes away (a USB LED unplugged, a driver unbound): its directory disappears. */
  unplug(): void {
    this.#present = false;
    this.close();
    rmSync(this.dir, { recursive: true, force: true });
    this.#rendered.clear();
  }

  /** Lets go of the mirror's descriptors (they are reopened on the next change). */
  close(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }

  replug(): void {
    this.#present = true;
    this.#render();
  }

  /** From now on the kernel refuses writes to `attr` with `errno` (EACCES, EINVAL, EIO …); undefined lifts it. */
  deny(attr: LedAttribute, errno: string | undefined): void {
    if (errno) this.#denied.set(attr, errno);
    else this.#denied.delete(attr);
  }

  // ---- the driver's rules ----------------------------------------------------

  #selectTrigger(name: string): void {
    if (name === this.#trigger) return;
    if (this.#trigger !== 'none') {
      // led_trigger_set: deactivating the old trigger stops blinking and sets LED_OFF.
      this.#brightness = 0;
      this.#delayOn = 0;
      this.#delayOff = 0;
    }
    this.#trigger = name;
    if (name === 'timer') {
      this.#delayOn = TIMER_DEFAULT_MS;
      this.#delayOff = TIMER_DEFAULT_MS;
    }
    // Blinking triggers and default-on light the LED at full brightness.
    if (name !== 'none' && this.#brightness === 0) this.#brightness = this.config.maxBrightness;
  }

  #check(attr: LedAttribute): void {
    if (!this.#present) throw this.#error('ENOENT', 'open', attr);
    const denied = this.#denied.get(attr);
    if (denied) throw this.#error(denied, 'open', attr);
  }

  #error(errno: string, syscall: 'open' | 'write', attr: LedAttribute): KernelError {
    return KernelError.of(errno, { syscall, path: path.join(this.dir, attr) });
  }

  #restore(): void {
    try {
      const b = unsignedOrUndefined(readFileSync(path.join(this.dir, 'brightness'), 'utf8'));
      if (b !== undefined) this.#brightness = Math.min(b, this.config.maxBrightness);
      const t = parseTriggers(readFileSync(path.join(this.dir, 'trigger'), 'utf8')).selected;
      if (this.#triggers.includes(t)) {
        this.#trigger = t;
        if (t === 'timer') {
          this.#delayOn = unsignedOrUndefined(readFileSync(path.join(this.dir, 'delay_on'), 'utf8')) ?? TIMER_DEFAULT_MS;
          this.#delayOff = unsignedOrUndefined(readFileSync(path.join(this.dir, 'delay_off'), 'utf8')) ?? TIMER_DEFAULT_MS;
        }
      }
    } catch {
      // A first start: no tree yet, the LED starts dark with no trigger.
    }
  }

  /** sysfs's text for one attribute now; undefined when the LED does not have it (delay_* without timer). */
  #attribute(attr: LedAttribute): string | undefined {
    switch (attr) {
      case 'brightness':
        return `${this.#brightness}\n`;
      case 'max_brightness':
        return `${this.config.maxBrightness}\n`;
      case 'trigger':
        return formatTriggers({ selected: this.#trigger, available: this.#triggers });
      case 'delay_on':
        return this.#trigger === 'timer' ? `${this.#delayOn}\n` : undefined;
      case 'delay_off':
        return this.#trigger === 'timer' ? `${this.#delayOff}\n` : undefined;
    }
  }

  /** Every attribute the LED has now, with sysfs's text for it. */
  #attributes(): Map<LedAttribute, string> {
    const attrs = new Map<LedAttribute, string>();
    for (const attr of ['brightness', 'max_brightness', 'trigger', 'delay_on', 'delay_off'] as const) {
      const text = this.#attribute(attr);
      if (text !== undefined) attrs.set(attr, text);
    }
    return attrs;
  }

  /**
   * Replaces an attribute file's text in place. Not writeFileSync: truncating to
   * zero makes ext4 flush the file on close (auto_da_alloc), ~200 µs a write here
   * and wear on a Pi's SD card; writing over it and cutting to length is a few µs.
   */
  #overwrite(attr: LedAttribute, text: string): void {
    let fd = this.#fds.get(attr);
    if (fd === undefined) {
      const file = path.join(this.dir, attr);
      try {
        fd = openSync(file, 'r+');
      } catch {
        fd = openSync(file, 'w');
      }
      this.#fds.set(attr, fd);
    }
    ftruncateSync(fd, writeSync(fd, text, 0));
  }

  #render(): void {
    if (!this.#present) return;
    if (this.#rendered.size === 0) makeDir(this.dir);
    const now = this.#attributes();
    for (const [attr, text] of now) {
      if (this.#rendered.get(attr) === text) continue;
      this.#overwrite(attr, text);
      this.#rendered.set(attr, text);
    }
    for (const attr of [...this.#rendered.keys()]) {
      if (now.has(attr)) continue;
      const fd = this.#fds.get(attr);
      if (fd !== undefined) closeSync(fd);
      this.#fds.delete(attr);
      rmSync(path.join(this.dir, attr), { force: true });
      this.#rendered.delete(attr);
    }
  }
}
