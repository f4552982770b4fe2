/**
 * The drop-in `dev2mqtt systemd` writes comes from the kinds' own sandbox
 * declarations (DeviceKind.sandbox); src/deploy/sandbox.ts names no kind. For
 * the kinds that existed before it did, the drop-in must not change: the
 * golden text below was rendered by the switch-based sandbox.ts it replaced,
 * for every case that switch had (LED links resolved or not, a chip by
 * number, path or label, legacy sysfs GPIO, USB serial by class and by-id,
 * built-in UARTs, tape, duplicates, a sim device, a plug-in kind).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ResolvedDevice } from '../../src/config/load.js';
import { renderDropIn, sandboxFor, UNIT_GROUPS } from '../../src/deploy/sandbox.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { defineKind, type AnyKind } from '../../src/devices/kind.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { s } from '../../src/schema/schema.js';

const links: Record<string, string> = {
  '/sys/class/leds/ACT': '/sys/devices/platform/leds/leds/ACT',
  '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0': '/dev/ttyUSB3',
  '/dev/ttyACM0': '/dev/ttyACM0',
  '/dev/ttyAMA0': '/dev/ttyAMA0',
};
const resolve = (p: string): string | undefined => links[p];

/** Devices as the config loader resolves them: options parsed by the kind's schema, defaults filled in. */
function dev(kinds: KindRegistry, id: string, kind: string, options: Record<string, unknown>, sim = false): ResolvedDevice {
  const k = kinds.get(kind);
  const parsed = k ? k.options(sim).parse(options) : { ok: true as const, value: options };
  if (!parsed.ok) throw new Error(`${id}: ${JSON.stringify(parsed.issues)}`);
  return { id, kind, name: id, sim, options: parsed.value };
}

const GOLDEN = [
  '# Written by `dev2mqtt systemd` from /etc/dev2mqtt/config.json: exactly the devices configured there.',
  "# It replaces the unit's class-wide DeviceAllow= list; run it again after changing the devices.",
  '# old: legacy sysfs GPIO needs /sys/devices/platform writable; prefer the character device',
  '# old2: legacy sysfs GPIO needs /sys/devices/platform writable; prefer the character device',
  "# soc: kind 'thermal' is a plug-in; add what it opens with systemctl edit dev2mqtt",
  '[Service]',
  'DeviceAllow=',
  'DeviceAllow=/dev/gpiochip4 rw',
  'DeviceAllow=char-gpiochip rw',
  'DeviceAllow=/dev/gpiochip0 rw',
  'DeviceAllow=char-ttyUSB rw',
  'DeviceAllow=char-ttyACM rw',
  'DeviceAllow=/dev/ttyAMA0 rw',
  'DeviceAllow=/dev/ttyS0 rw',
  'DeviceAllow=/dev/nst0 rw',
  'ReadWritePaths=-/sys/devices/platform/leds/leds/ACT',
  'ReadWritePaths=-/srv/sys/class/leds/PWR',
  'ReadWritePaths=-/sys/class/gpio',
  'ReadWritePaths=-/sys/devices/platform',
  '',
].join('\n');

function everyCase(kinds: KindRegistry): ResolvedDevice[] {
  return [
    dev(kinds, 'act', 'led', { name: 'ACT' }),
    dev(kinds, 'pwr', 'led', { name: 'PWR', sysfsRoot: '/srv/sys' }),
    dev(kinds, 'relay', 'gpio', { chip: 'gpiochip4', line: 4 }),
    dev(kinds, 'door', 'gpio', { chip: 'pinctrl-rp1', line: 'GPIO5' }),
    dev(kinds, 'bypath', 'gpio', { chip: '/dev/gpiochip0', line: 6 }),
    dev(kinds, 'old', 'gpio', { chip: 'gpiochip0', line: 7, interface: 'sysfs' }),
    dev(kinds, 'old2', 'gpio', { chip: 'gpiochip0', line: 8, interface: 'sysfs' }),
    dev(kinds, 'modem', 'serial', { path: '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0' }),
    dev(kinds, 'acm', 'serial', { path: '/dev/ttyACM0' }),
    dev(kinds, 'uart', 'serial', { path: '/dev/ttyAMA0' }),
    dev(kinds, 's0', 'serial', { path: '/dev/ttyS0' }),
    dev(kinds, 'tape0', 'tape', { path: '/dev/nst0' }),
    dev(kinds, 'tape1', 'tape', { path: '/dev/nst0' }),
    dev(kinds, 'demo', 'led', { name: 'led0' }, true),
    dev(kinds, 'soc', 'thermal', {}),
  ];
}

describe('the systemd drop-in from the kinds', () => {
  it('is byte for byte what the switch on kind names rendered, for every case it had', () => {
    const kinds = new KindRegistry(builtinKinds());
    expect(renderDropIn(sandboxFor(everyCase(kinds), kinds, resolve), '/etc/dev2mqtt/config.json')).toBe(GOLDEN);
  });

  it("adds SupplementaryGroups= only for groups beyond the unit's own, which UNIT_GROUPS mirrors", () => {
    const unit = readFileSync(new URL('../../deploy/systemd/dev2mqtt.service', import.meta.url), 'utf8');
    expect(/^SupplementaryGroups=(.*)$/m.exec(unit)?.[1]?.split(/\s+/)).toEqual([...UNIT_GROUPS]);
    const i2c: AnyKind = defineKind({
      kind: 'eeprom',
      title: 'an I2C EEPROM',
      options: () => s.object({ bus: s.int().default(1) }),
      commands: {},
      create: () => ({ open: async () => undefined, close: async () => undefined, state: () => ({}) }),
      sandbox: (o) => ({ deviceAllow: [`/dev/i2c-${o.bus} rw`], groups: ['i2c', 'gpio'], notes: ['the bus is shared'] }),
    });
    const kinds = new KindRegistry([...builtinKinds(), i2c]);
    const out = renderDropIn(sandboxFor([dev(kinds, 'rom', 'eeprom', {}), dev(kinds, 'act', 'led', { name: 'ACT' })], kinds, resolve), 'c');
    expect(out).toContain('# rom: the bus is shared\n');
    expect(out).toContain('DeviceAllow=/dev/i2c-1 rw\n');
    expect(out.endsWith('ReadWritePaths=-/sys/devices/platform/leds/leds/ACT\nSupplementaryGroups=i2c\n')).toBe(true);
  });

  it('asks a plug-in kind that declares its needs, like a built-in one', () => {
    const kinds = new KindRegistry(builtinKinds());
    const thermal: AnyKind = defineKind({
      kind: 'thermal',
      title: 'thermal zone',
      options: () => s.object({}),
      commands: {},
      create: () => ({ open: async () => undefined, close: async () => undefined, state: () => ({}) }),
      sandbox: () => ({}),
    });
    kinds.add(thermal);
    const sandbox = sandboxFor(everyCase(kinds), kinds, resolve);
    expect(sandbox.notes.filter((n) => n.startsWith('soc:'))).toEqual([]);
  });
});
