/** The kind's declarations: options, commands, registration, Home Assistant entities. */
import { describe, expect, it } from 'vitest';
import { builtinKinds } from '../../../src/devices/builtin.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import type { SerialOptions } from '../../../src/devices/serial/options.js';
import { declarationOf, type HaDeviceInfo } from '../../../src/homeassistant/entities.js';
import { formatIssues } from '../../../src/schema/schema.js';

describe('serial options', () => {
  it('real hardware needs an absolute path; the sim does not', () => {
    const real = serialKind.options(false).parse({}, 'options');
    expect(real.ok).toBe(false);
    if (!real.ok) expect(formatIssues(real.issues)).toContain('options.path is required');
    expect(serialKind.options(false).parse({ path: 'ttyUSB0' }).ok).toBe(false);
    expect(serialKind.options(true).parse({})).toMatchObject({
      ok: true,
      value: { baud: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false, exclusive: true },
    });
  });

  it('every problem is named with its path', () => {
    const r = serialKind
      .options(false)
      .parse(
        { path: '/dev/ttyUSB2', baud: 0, dataBits: 9, parity: 'purple', polls: [{ command: 'ATI', everyMs: 10 }], simRingEveryMs: 5 },
        'options',
      );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['options.baud', 'options.dataBits', 'options.parity', 'options.polls[0].everyMs', 'options.simRingEveryMs']),
    );
  });

  it('warns about built-in UARTs and about giving up exclusivity', () => {
    expect(serialKind.warnings?.({ ...parsed({ path: '/dev/ttyS0' }) }, false)).toEqual([expect.stringContaining('serial console')]);
    expect(serialKind.warnings?.({ ...parsed({ path: '/dev/ttyUSB2', exclusive: false }) }, false)).toEqual([
      expect.stringContaining('ModemManager'),
    ]);
    expect(serialKind.warnings?.({ ...parsed({ path: '/dev/serial/by-id/usb-Quectel_EC25-if02-port0' }) }, false)).toEqual([]);
  });
});

function parsed(o: Record<string, unknown>): SerialOptions {
  const r = serialKind.options(false).parse(o);
  if (!r.ok) throw new Error(formatIssues(r.issues));
  return r.value;
}

describe('serial commands', () => {
  it("has the contract's commands", () => {
    expect(Object.keys(serialKind.commands).sort()).toEqual(
      ['at', 'break', 'configure', 'flush', 'get', 'lines', 'read', 'setLines', 'write'].sort(),
    );
  });

  it('rejects a multi-line AT command, bad hex, and setLines without a line', () => {
    expect(serialKind.commands.at?.args.parse({ command: 'AT\rATZ' }).ok).toBe(false);
    expect(serialKind.commands.at?.args.parse({ command: 'AT+CSQ', timeoutMs: 5000 }).ok).toBe(true);
    expect(serialKind.commands.write?.args.parse({ data: 'zz', encoding: 'hex' }).ok).toBe(false);
    expect(serialKind.commands.write?.args.parse({ data: '41 54 0d', encoding: 'hex' }).ok).toBe(true);
    expect(serialKind.commands.setLines?.args.parse({}).ok).toBe(false);
  });

  it('is registered as a built-in kind', () => {
    expect(builtinKinds().map((k) => k.kind)).toContain('serial');
  });
});

describe('Home Assistant', () => {
  const info: HaDeviceInfo<SerialOptions> = {
    id: 'modem0',
    name: 'LTE modem',
    options: parsed({ path: '/dev/ttyUSB2' }),
    sim: false,
    topics: {
      state: 'd/n/modem0/state',
      event: 'd/n/modem0/event',
      availability: 'd/n/modem0/availability',
      command: (c) => `d/n/modem0/cmd/${c}`,
    },
    state: undefined,
  };
  const entities = declarationOf(serialKind.homeassistant!(info)).entities;

  it('sensors for signal and byte counts, a binary_sensor per input line, all on the state topic', () => {
    expect(entities.map((e) => `${e.component}:${e.part}`)).toEqual([
      'sensor:signal',
      'sensor:signal_percent',
      'sensor:rx_bytes',
      'sensor:tx_bytes',
      'binary_sensor:cts',
      'binary_sensor:dsr',
      'binary_sensor:cd',
      'binary_sensor:ri',
    ]);
    for (const e of entities) expect(e.config.state_topic).toBe('d/n/modem0/state');
    expect(entities[0]?.config).toMatchObject({ device_class: 'signal_strength', unit_of_measurement: 'dBm' });
  });

  it('describes the device with what the modem answered: manufacturer, model, revision, IMEI', () => {
    expect(declarationOf(serialKind.homeassistant!(info)).hardware).toEqual({
      manufacturer: undefined,
      model: undefined,
      hwVersion: undefined,
      serialNumber: undefined,
    });
    const modem = { manufacturer: 'Quectel', model: 'EC25', revision: 'EC25EFAR06A06M4G', imei: '866758042123456' };
    expect(declarationOf(serialKind.homeassistant!({ ...info, state: { modem } })).hardware).toEqual({
      manufacturer: 'Quectel',
      model: 'EC25',
      hwVersion: 'EC25EFAR06A06M4G',
      serialNumber: '866758042123456',
    });
  });

  it("line templates read the state's `lines` and say None when the port has none", () => {
    const cd = entities.find((e) => e.part === 'cd');
    expect(cd?.config.value_template).toBe("{{ ('ON' if value_json.lines.cd else 'OFF') if value_json.lines is mapping else None }}");
    expect(cd?.config).toMatchObject({ payload_on: 'ON', payload_off: 'OFF' });
  });
});
