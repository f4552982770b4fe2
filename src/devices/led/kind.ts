/**
 * `led`: an LED of the kernel's LED class, `{sysfsRoot}/class/leds/NAME`.
 * Commands: set (ON/OFF/brightness/effect), blink (the timer trigger), trigger,
 * get. Home Assistant sees a JSON-schema light with brightness and the
 * triggers as its effects.
 */
import path from 'node:path';
import { command, defineKind } from '../kind.js';
import { CommandError } from '../errors.js';
import { s, type Schema } from '../../schema/schema.js';
import { parseOnOff } from '../switch-value.js';
import { LedDevice, ledDir, type LedChange, type LedOptions } from './device.js';
import { ledProbe } from './probe.js';
import { SIM_MAX_BRIGHTNESS, SIM_TRIGGERS } from './triggers.js';

/** sysfs names: anything but `/` and NUL (`ACT`, `input3::capslock`, `mmc0::`), never `.` or `..`. */
const LED_NAME = /^(?!\.\.?$)[^/\0]{1,128}$/;
/** Built into Raspberry Pi OS kernels; `effects` in the options lists others for Home Assistant. */
const DEFAULT_EFFECTS = ['none', 'timer', 'heartbeat', 'default-on'];

function options(sim: boolean): Schema<LedOptions> {
  const name = s.string({ pattern: LED_NAME, patternText: 'an LED class name (no /)' }).doc('the directory name under /sys/class/leds');
  return s.object({
    name: sim ? name.default('led0') : name,
    sysfsRoot: s.string({ minLength: 1 }).default('/sys').doc('where sysfs is mounted; tests point it at a fake tree (unused with sim)'),
    pollMs: s
      .int({ min: 0, max: 3_600_000 })
      .default(5000)
      .doc('re-read the LED this often (triggers change it behind our back); 0: only on commands'),
    maxBrightness: s
      .int({ min: 1, max: 1_000_000 })
      .optional()
      .doc(
        sim
          ? `the sim's max_brightness (default ${SIM_MAX_BRIGHTNESS}); also Home Assistant's brightness scale`
          : "Home Assistant's brightness scale: this LED's max_brightness (default 255)",
      ),
    effects: s
      .array(s.string({ maxLength: 64 }), { maxItems: 64 })
      .optional()
      .doc('the triggers Home Assistant offers as effects'),
    triggers: s
      .array(s.string({ pattern: /^[A-Za-z0-9_:.-]{1,64}$/ }), { maxItems: 64 })
      .optional()
      .doc('sim only: the triggers the sim LED offers'),
  });
}

const setArgs = s.object({
  value: s
    .union(s.string({ maxLength: 32 }), s.int({ min: 0 }), s.boolean())
    .optional()
    .doc('ON, OFF or a brightness: what a plain payload becomes'),
  state: s.enum(['ON', 'OFF'], { caseInsensitive: true }).optional(),
  brightness: s.int({ min: 0 }).optional().doc('clamped to max_brightness, as the kernel does'),
  effect: s.string({ maxLength: 64 }).optional().doc('a trigger to select (Home Assistant effect)'),
});

/** The forms of `set` (`ON`, `off`, `128`, `{state, brightness, effect}`) as one change. */
export function readSetArgs(a: {
  value?: string | number | boolean;
  state?: 'ON' | 'OFF';
  brightness?: number;
  effect?: string;
}): LedChange {
  if (a.value !== undefined) {
    const text = typeof a.value === 'string' ? a.value.trim() : a.value;
    if (typeof text === 'number' || (typeof text === 'string' && /^\d+$/.test(text))) {
      const b = Number(text);
      return { on: b > 0, brightness: b };
    }
    const onOff = parseOnOff(text);
    if (onOff === undefined) throw new CommandError('bad_args', `set takes ON, OFF or a brightness, not '${String(a.value)}'`);
    return { on: onOff === 1 };
  }
  if (a.state === undefined && a.brightness === undefined && a.effect === undefined) {
    throw new CommandError('bad_args', 'set needs ON, OFF, a brightness or {state, brightness, effect}');
  }
  if (a.state === 'OFF' || a.brightness === 0) return { on: false };
  return {
    on: true,
    ...(a.brightness !== undefined ? { brightness: a.brightness } : {}),
    ...(a.effect !== undefined ? { effect: a.effect } : {}),
  };
}

export const ledKind = defineKind<LedOptions, LedDevice>({
  kind: 'led',
  title: 'an LED of the sysfs LED class (/sys/class/leds/NAME)',
  options,
  commands: {
    set: command({
      description: 'ON (steady, max_brightness), OFF, a brightness, or {state, brightness, effect}',
      args: setArgs,
      timeoutMs: 5000,
      run: (led, a) => led.set(readSetArgs(a)),
    }),
    blink: command({
      description: 'blink through the timer trigger',
      args: s.object({
        onMs: s.int({ min: 1, max: 3_600_000 }).default(500),
        offMs: s.int({ min: 1, max: 3_600_000 }).default(500),
        brightness: s.int({ min: 1 }).optional().doc('the on-level of the blink'),
      }),
      timeoutMs: 5000,
      run: (led, a) => led.blink(a.onMs, a.offMs, a.brightness),
    }),
    trigger: command({
      description: 'select a trigger by name (one listed in `triggers`); a plain payload is the name',
      args: s.object({ name: s.string({ maxLength: 64 }).optional(), value: s.string({ maxLength: 64 }).optional() }),
      timeoutMs: 5000,
      run: (led, a) => {
        const name = a.name ?? a.value;
        if (name === undefined) throw new CommandError('bad_args', 'trigger needs {name}');
        return led.setTrigger(name.trim());
      },
    }),
    get: command({
      description: 'read the LED again and return its state',
      args: s.none(),
      timeoutMs: 5000,
      run: (led) => led.refresh(),
    }),
  },
  sim: async (ctx) => (await import('./sim.js')).ledSim(ctx),
  create: (ctx) => new LedDevice(ctx),
  sandbox(o, host) {
    const dir = path.join(o.sysfsRoot, ledDir(o.name));
    // '-': a missing LED must not keep the service from starting (the agent retries it).
    // The class entry is a link into /sys/devices, which is what a read-only /sys must leave writable.
    return { readWritePaths: [`-${host.resolve(dir) ?? dir}`], groups: ['gpio'] };
  },
  probe: ledProbe,
  homeassistant(info) {
    const o = info.options;
    return [
      {
        component: 'light',
        name: null,
        config: {
          schema: 'json',
          state_topic: info.topics.state,
          command_topic: info.topics.command('set'),
          brightness: true,
          brightness_scale: o.maxBrightness ?? SIM_MAX_BRIGHTNESS,
          supported_color_modes: ['brightness'],
          effect: true,
          effect_list: o.effects ?? (info.sim ? (o.triggers ?? [...SIM_TRIGGERS]) : DEFAULT_EFFECTS),
          flash: false,
          transition: false,
        },
      },
    ];
  },
});
