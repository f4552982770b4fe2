/**
 * `pwm`: one channel of a PWM chip through the kernel's sysfs interface,
 * `/sys/class/pwm/pwmchipN/pwmM` — a dimmable LED strip, a fan, anything
 * driven by a duty cycle. Commands: set (a percentage, a duty cycle in ns,
 * ON/OFF at the last level; Home Assistant's transitions fade), fade, off,
 * get. Home Assistant sees a light with brightness or a number, by option.
 * See docs/kinds/pwm.md; docs/writing-a-kind.md walks through this folder.
 */
import path from 'node:path';
import { s, type Schema } from '../../schema/schema.js';
import { CommandError } from '../errors.js';
import { command, defineKind } from '../kind.js';
import { parseOnOff } from '../switch-value.js';
import { PwmDevice, type PwmChange, type PwmOptions } from './device.js';
import { pwmEntities } from './homeassistant.js';
import { pwmProbe } from './probe.js';

/** A fade or a transition may take this long at most (it holds the channel meanwhile). */
const MAX_FADE_MS = 600_000;

function options(sim: boolean): Schema<PwmOptions> {
  const chip = s
    .union(
      s.int({ min: 0, max: 65_535 }),
      s.string({ minLength: 1, maxLength: 128, pattern: /^[^/\0]+$/, patternText: 'a name without /' }),
    )
    .doc('pwmchipN (or N), or the name of its parent device (fe20c000.pwm), which stays put when chip numbers move');
  const channel = s.int({ min: 0, max: 1023 }).doc('the channel on the chip, 0 … npwm-1');
  const periodNs = s.int({ min: 1, max: 10_000_000_000 }).doc('the PWM period in ns (1,000,000 = 1 kHz; 40,000 = a 4-pin fan’s 25 kHz)');
  return s.object({
    chip: sim ? chip.default('pwmchip0') : chip,
    channel: sim ? channel.default(0) : channel,
    periodNs: sim ? periodNs.default(1_000_000) : periodNs,
    polarity: s.enum(['normal', 'inversed']).optional().doc('set at open (while the output is disabled); left as it is when absent'),
    sysfsRoot: s.string({ minLength: 1 }).default('/sys').doc('where sysfs is mounted; tests point it at a recorded tree'),
    pollMs: s
      .int({ min: 0, max: 3_600_000 })
      .default(10_000)
      .doc('re-read the channel this often (another program may change it); 0: never'),
    exportTimeoutMs: s.int({ min: 0, max: 60_000 }).default(5000).doc('how long to wait for pwmM/ to appear and be writable after export'),
    fadeStepMs: s.int({ min: 5, max: 10_000 }).default(20).doc('the time between two duty-cycle writes of a fade'),
    haEntity: s.enum(['light', 'number']).default('light').doc('Home Assistant: a light with brightness, or a 0–100 % number'),
    ...(sim
      ? {
          simChannels: s.int({ min: 1, max: 64 }).optional().doc('sim: the chip’s npwm (default 2, or enough for `channel`)'),
          simInversed: s.boolean().optional().doc('sim: whether the chip can invert its output (default true)'),
        }
      : {}),
  });
}

const percent = s.number({ min: 0, max: 100 });

const setArgs = s.object({
  value: s
    .union(s.string({ maxLength: 32 }), s.number(), s.boolean())
    .optional()
    .doc('ON, OFF or a percentage: what a plain payload becomes'),
  state: s.enum(['ON', 'OFF'], { caseInsensitive: true }).optional(),
  percent: percent.optional(),
  dutyNs: s.int({ min: 0 }).optional().doc('the duty cycle in ns, at most the period'),
  brightness: percent.optional().doc("Home Assistant's brightness, on its scale of 100: a percentage"),
  transition: s
    .number({ min: 0, max: MAX_FADE_MS / 1000 })
    .optional()
    .doc("Home Assistant's transition in seconds: fade to the level"),
});

/** The forms of `set` (`ON`, `off`, `42`, `{percent}`, `{dutyNs}`, HA's `{state, brightness, transition}`) as one change. */
export function readSetArgs(a: {
  value?: string | number | boolean;
  state?: 'ON' | 'OFF';
  percent?: number;
  dutyNs?: number;
  brightness?: number;
  transition?: number;
}): PwmChange {
  const transitionMs = a.transition ? Math.round(a.transition * 1000) : undefined;
  const fade = transitionMs ? { transitionMs } : {};
  if (a.value !== undefined) {
    const text = typeof a.value === 'string' ? a.value.trim() : a.value;
    if (typeof text === 'number' || (typeof text === 'string' && text !== '' && Number.isFinite(Number(text)))) {
      const p = Number(text);
      if (p < 0 || p > 100) throw new CommandError('bad_args', `set takes a percentage from 0 to 100, not ${p}`);
      return { on: p > 0, percent: p, ...fade };
    }
    const onOff = parseOnOff(text);
    if (onOff === undefined) throw new CommandError('bad_args', `set takes ON, OFF or a percentage, not '${String(a.value)}'`);
    return { on: onOff === 1, ...fade };
  }
  const level = a.percent ?? a.brightness;
  if (a.state === undefined && level === undefined && a.dutyNs === undefined) {
    throw new CommandError('bad_args', 'set needs ON, OFF, a percentage, {percent}, {dutyNs} or {state, brightness}');
  }
  if (level !== undefined && a.dutyNs !== undefined) throw new CommandError('bad_args', 'set takes a percentage or dutyNs, not both');
  if (a.state === 'OFF' || level === 0 || a.dutyNs === 0) return { on: false, ...fade };
  return {
    on: true,
    ...(level !== undefined ? { percent: level } : {}),
    ...(a.dutyNs !== undefined ? { dutyNs: a.dutyNs } : {}),
    ...fade,
  };
}

export const pwmKind = defineKind<PwmOptions, PwmDevice>({
  kind: 'pwm',
  title: 'a PWM channel through /sys/class/pwm/pwmchipN (LED strip, fan): duty cycle, fades',
  options,
  commands: {
    set: command({
      description: 'a percentage, {percent}, {dutyNs}, ON (the last level) or OFF (duty 0); {transition} seconds fades there',
      args: setArgs,
      timeoutMs: MAX_FADE_MS + 10_000,
      run: (pwm, a, c) => pwm.set(readSetArgs(a), c.signal),
    }),
    fade: command({
      description: 'move the duty cycle to toPercent over ms, in steps of fadeStepMs',
      args: s.object({ toPercent: percent, ms: s.int({ min: 0, max: MAX_FADE_MS }).default(1000) }),
      timeoutMs: MAX_FADE_MS + 10_000,
      run: (pwm, a, c) => pwm.fade(a.toPercent, a.ms, c.signal),
    }),
    off: command({
      description: 'duty cycle 0, then the output disabled',
      args: s.none(),
      timeoutMs: 5000,
      run: (pwm) => pwm.off(),
    }),
    get: command({
      description: 'read the channel again and return its state',
      args: s.none(),
      timeoutMs: 5000,
      run: (pwm) => pwm.refresh(),
    }),
  },
  sim: async (ctx) => (await import('./sim.js')).pwmSim(ctx),
  create: (ctx) => new PwmDevice(ctx),
  homeassistant: pwmEntities,
  sandbox(o, host) {
    // The chip's directory under /sys/devices: export/unexport and the pwmM/ the kernel makes there.
    const name = typeof o.chip === 'number' ? `pwmchip${o.chip}` : o.chip;
    const link = /^pwmchip\d+$/.test(name)
      ? path.join(o.sysfsRoot, 'class', 'pwm', name)
      : path.join(o.sysfsRoot, 'bus', 'platform', 'devices', name);
    return { readWritePaths: [`-${host.resolve(link) ?? link}`], groups: ['gpio'] };
  },
  probe: pwmProbe,
});
