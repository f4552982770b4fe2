/**
 * The `serial` device kind: a modem (or anything else) on a serial line,
 * through termios2, the modem-line ioctls and AT commands. See
 * docs/kinds/serial.md for options, commands, events and a USB modem set-up.
 */
import path from 'node:path';
import { defineKind } from '../kind.js';
import { serialCommands } from './commands.js';
import { SerialDevice } from './device.js';
import { serialEntities } from './homeassistant.js';
import { serialProbe } from './probe.js';
import { realOptions, simDevicePath, simOptions, type SerialOptions } from './options.js';
import type { Schema } from '../../schema/schema.js';

const HOTPLUG_TTY = /^tty(USB|ACM)\d+$/;

export const serialKind = defineKind<SerialOptions, SerialDevice>({
  kind: 'serial',
  title: 'A modem or other device on a serial line (/dev/tty*): AT commands, raw bytes, modem lines',
  options: (sim): Schema<SerialOptions> => (sim ? simOptions : realOptions),
  commands: serialCommands,
  events: {
    urc: 'a line the modem sent on its own (RING, +CMTI, +CREG …): {line, code, params, during?}',
    lines: 'an input modem line changed: {changed: [cts|dsr|cd|ri], lines, counters}',
  },
  warnings(options, sim) {
    const out: string[] = [];
    if (!sim && /\/dev\/ttyS\d+$/.test(options.path ?? ''))
      out.push(`${options.path}: a built-in UART; check it is not the serial console (console= on the kernel command line)`);
    if (!options.exclusive) out.push('exclusive is off: another program (ModemManager, a getty) may open the port and steal its answers');
    return out;
  },
  sim: async (ctx) => {
    const { SerialSimKernel } = await import('./sim/kernel.js');
    return { kernel: new SerialSimKernel(simDevicePath(ctx.options, ctx.stateDir), ctx) };
  },
  create: (ctx) => new SerialDevice(ctx, ctx.sim ? simDevicePath(ctx.options, ctx.stateDir) : (ctx.options.path as string)),
  homeassistant: serialEntities,
  sandbox(o, host) {
    if (!o.path) return {};
    const node = host.resolve(o.path) ?? o.path;
    const name = path.basename(node);
    // USB serial adapters get a new minor when replugged: allow their class, not one node.
    const hotplug = HOTPLUG_TTY.test(name) || o.path.startsWith('/dev/serial/');
    return { deviceAllow: [hotplug ? `char-${name.replace(/\d+$/, '')} rw` : `${o.path} rw`], groups: ['dialout'] };
  },
  probe: serialProbe,
});
