/**
 * `gpio`: one GPIO line through the character device (uapi v2), or the
 * legacy sysfs interface where asked. Outputs: set, pulse, get; inputs:
 * get, and `edge` events with the kernel's timestamps. Home Assistant sees
 * an output as a switch and an input as a binary_sensor.
 */
import path from 'node:path';
import { command, defineKind } from '../kind.js';
import { CommandError } from '../errors.js';
import { s, type Schema } from '../../schema/schema.js';
import { ON_OFF_WORDS, parseOnOff } from '../switch-value.js';
import type { GpioOptions } from './backend.js';
import { CdevLine } from './cdev.js';
import { chipPath } from './chip.js';
import { GpioDevice } from './device.js';
import { gpioProbe } from './probe.js';
import { SysfsLine } from './sysfs-line.js';

const onOff = s.union(s.enum(['ON', 'OFF'], { caseInsensitive: true }), s.int({ min: 0, max: 1 }), s.boolean());

/** Settings the kernel would refuse, said in the config's own words before anything is opened. */
function conflicts(o: GpioOptions, sim: boolean): string | undefined {
  if (o.direction === 'out' && o.edge !== 'none') return 'edge needs direction "in"';
  if (o.direction === 'out' && o.debounceMs > 0) return 'debounceMs needs direction "in"';
  if (o.direction === 'in' && o.drive !== 'push-pull') return 'drive needs direction "out"';
  if (o.interface === 'sysfs') {
    if (sim) return 'sim models the character device: leave interface out (or "cdev")';
    if (o.bias !== 'as-is' || o.drive !== 'push-pull' || o.debounceMs > 0)
      return 'the sysfs interface cannot set bias, drive or debounceMs; use interface "cdev"';
    if (!/^\d+$/.test(String(o.line))) return 'the sysfs interface needs the line as an offset (it has no line names)';
  }
  return undefined;
}

function options(sim: boolean): Schema<GpioOptions> {
  return s
    .object({
      chip: s
        .string({ minLength: 1, maxLength: 256 })
        .default('gpiochip0')
        .doc('gpiochipN, a path (/dev/gpiochip4) or a chip label (pinctrl-rp1)'),
      line: s
        .union(s.int({ min: 0, max: 65_535 }), s.string({ minLength: 1, maxLength: 31 }))
        .doc('an offset on the chip or a line name (GPIO17)'),
      direction: s.enum(['in', 'out']).default('in'),
      activeLow: s.boolean().default(false),
      bias: s.enum(['as-is', 'pull-up', 'pull-down', 'disabled']).default('as-is'),
      drive: s.enum(['push-pull', 'open-drain', 'open-source']).default('push-pull'),
      edge: s.enum(['none', 'rising', 'falling', 'both']).default('none').doc('inputs: which edges become events'),
      debounceMs: s.number({ min: 0, max: 4_000_000 }).default(0).doc('inputs: the kernel debounce period'),
      initial: onOff.default(0).doc('outputs: the value the line starts with'),
      interface: s.enum(['cdev', 'sysfs']).default('cdev').doc('sysfs: the legacy /sys/class/gpio interface, for old kernels'),
      sysfsRoot: s.string({ minLength: 1 }).default('/sys').doc('where sysfs is mounted (interface sysfs)'),
      pollMs: s
        .int({ min: 0, max: 3_600_000 })
        .default(1000)
        .doc('inputs without edges: re-read this often; sysfs: the longest wait between checks'),
      ...(sim
        ? {
            simToggleMs: s
              .int({ min: 0, max: 3_600_000 })
              .default(0)
              .doc('sim inputs: the outside flips the line this often (a button pressing itself)'),
          }
        : {}),
    })
    .refine((o) => conflicts(o, sim));
}

function onOffArg(v: unknown, what: string): 0 | 1 {
  const bit = parseOnOff(v);
  if (bit === undefined) throw new CommandError('bad_args', `${what} takes ${ON_OFF_WORDS}, not ${JSON.stringify(v)}`);
  return bit;
}

export const gpioKind = defineKind<GpioOptions, GpioDevice>({
  kind: 'gpio',
  title: 'a GPIO line through /dev/gpiochipN (uapi v2), or /sys/class/gpio where asked',
  options,
  events: { edge: 'an edge on an input: {edge, value, timestampNs (kernel ns, a string), seqno, lineSeqno}' },
  warnings: (o) =>
    o.interface === 'sysfs'
      ? ['the sysfs GPIO interface is deprecated and absent from recent Raspberry Pi 5 kernels; prefer the character device']
      : [],
  commands: {
    set: command({
      description: `drive an output: ${ON_OFF_WORDS} (a plain payload), or {state}`,
      args: s.object({
        value: s.union(s.string({ maxLength: 16 }), s.int(), s.boolean()).optional(),
        state: s.enum(['ON', 'OFF'], { caseInsensitive: true }).optional(),
      }),
      timeoutMs: 5000,
      run: (gpio, a) => {
        const v = a.value ?? a.state;
        if (v === undefined) throw new CommandError('bad_args', `set needs a value: ${ON_OFF_WORDS}`);
        return gpio.set(onOffArg(v, 'set'));
      },
    }),
    pulse: command({
      description: 'drive an output to `value` (default: the opposite of now) for `ms`, then restore it, also on timeout',
      args: s.object({ ms: s.int({ min: 1, max: 60_000 }), value: onOff.optional() }),
      timeoutMs: 65_000,
      run: (gpio, a, c) => gpio.pulse(a.ms, a.value === undefined ? undefined : onOffArg(a.value, 'pulse'), c.signal),
    }),
    get: command({
      description: 'read the line and return its state',
      args: s.none(),
      timeoutMs: 5000,
      run: (gpio) => gpio.get(),
    }),
  },
  sim: async (ctx) => (await import('./sim.js')).gpioSim(ctx),
  sandbox(o) {
    if (o.interface === 'sysfs') {
      // export/unexport, then the exported gpioN directory, which lives under the chip's platform device.
      return {
        readWritePaths: [`-${path.join(o.sysfsRoot, 'class', 'gpio')}`, `-${path.join(o.sysfsRoot, 'devices', 'platform')}`],
        groups: ['gpio'],
        notes: ['legacy sysfs GPIO needs /sys/devices/platform writable; prefer the character device'],
      };
    }
    const chip = chipPath(o.chip);
    return { deviceAllow: [chip ? `${chip} rw` : 'char-gpiochip rw'], groups: ['gpio'] };
  },
  probe: gpioProbe,
  create: (ctx) =>
    new GpioDevice(ctx, (events) =>
      ctx.options.interface === 'sysfs'
        ? new SysfsLine(ctx.kernel, ctx.sysfs, ctx.options, events, ctx.log)
        : new CdevLine(ctx.kernel, ctx.options, events, ctx.log),
    ),
  homeassistant(info) {
    const value = "{{ 'ON' if value_json.value == 1 else 'OFF' }}";
    const common = { state_topic: info.topics.state, value_template: value, payload_on: 'ON', payload_off: 'OFF' };
    return info.options.direction === 'out'
      ? [
          {
            component: 'switch',
            name: null,
            config: { ...common, command_topic: info.topics.command('set'), state_on: 'ON', state_off: 'OFF' },
          },
        ]
      : [{ component: 'binary_sensor', name: null, config: common }];
  },
});
