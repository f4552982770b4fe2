/**
 * `sensor`: one sensor input read from sysfs — an hwmon input (a chip's
 * temperature, voltage, fan, power, humidity), a thermal zone, a 1-wire
 * thermometer (DS18B20) or an IIO channel (a humidity sensor) — published
 * as `{value, unit, ts}` when it moves by `minDelta` or every `intervalMs`.
 * Commands: get (read now), configure {intervalMs, minDelta, readMs}. Home
 * Assistant sees a sensor with the right device class and unit.
 * See docs/kinds/sensor.md.
 */
import { s, type Schema } from '../../schema/schema.js';
import { command, defineKind } from '../kind.js';
import { SensorDevice, type SensorOptions } from './device.js';
import { sensorEntities } from './homeassistant.js';
import { sensorProbe } from './probe.js';
import { HWMON_INPUT, IIO_CHANNEL } from './quantities.js';
import { W1_ID } from './w1.js';

/** Which options each source is found by. */
const NAMES: Readonly<Record<SensorOptions['source'], readonly (keyof SensorOptions)[]>> = {
  hwmon: ['chip', 'input'],
  thermal: ['zone'],
  w1: ['id'],
  iio: ['device', 'channel'],
};

const name = (what: string): Schema<string | undefined> =>
  s
    .string({ minLength: 1, maxLength: 128, pattern: /^[^/\0]+$/, patternText: 'a name without /' })
    .optional()
    .doc(what);

function options(sim: boolean): Schema<SensorOptions> {
  const source = s.enum(['hwmon', 'thermal', 'w1', 'iio']).doc('the kernel interface the input is read through');
  return s
    .object({
      source: sim ? source.default('w1') : source,
      chip: name('hwmon: the chip by its name (sht3x, nvme, coretemp), its device (1-0044, nvme0), or hwmonN'),
      input: s
        .string({ pattern: HWMON_INPUT, patternText: 'temp1, in0, fan1, curr1, power1, energy1, humidity1 …' })
        .optional()
        .doc('hwmon: the input, <type><n>'),
      zone: name('thermal: thermal_zoneN, N, or the zone’s type (cpu-thermal, x86_pkg_temp)'),
      id: s.string({ pattern: W1_ID, patternText: 'a 1-wire id such as 28-3c01d607d8f1' }).optional().doc('w1: the thermometer’s id'),
      device: name('iio: iio:deviceN, or the device’s name (si7020, dht11) or label'),
      channel: s
        .string({ pattern: IIO_CHANNEL, patternText: 'in_<type>[N][_modifier]: in_temp, in_humidityrelative, in_voltage0 …' })
        .optional()
        .doc('iio: the input channel'),
      sysfsRoot: s.string({ minLength: 1 }).default('/sys').doc('where sysfs is mounted; tests point it at a recorded tree'),
      readMs: s.int({ min: 250, max: 86_400_000 }).default(10_000).doc('read the input this often'),
      intervalMs: s
        .int({ min: 1000, max: 86_400_000 })
        .default(300_000)
        .doc('publish at least this often, moved or not (a heartbeat for dashboards and expire_after)'),
      minDelta: s
        .number({ min: 0 })
        .optional()
        .doc('publish when the value moved by this much since the last published one (default: by quantity, 0.2 °C …)'),
      scale: s.number().default(1).doc('multiply the reading (a voltage divider in front of an hwmon input)'),
      offset: s.number().default(0).doc('then add this (a calibration)'),
      ...(sim
        ? {
            simValue: s.number().optional().doc('sim: the value the sim input moves around'),
            simConversionMs: s.int({ min: 0, max: 60_000 }).optional().doc('sim w1: how long a conversion takes (default 750)'),
          }
        : {}),
    })
    .refine((o) => {
      if (sim) return undefined;
      const missing = NAMES[o.source].filter((k) => o[k] === undefined);
      return missing.length ? `source ${o.source} needs ${missing.join(' and ')}` : undefined;
    });
}

const settings = s
  .object({
    intervalMs: s.int({ min: 1000, max: 86_400_000 }).optional().doc('publish at least this often'),
    minDelta: s.number({ min: 0 }).optional().doc('publish when the value moved by this much'),
    readMs: s.int({ min: 250, max: 86_400_000 }).optional().doc('read this often'),
  })
  .refine((a) => (Object.values(a).every((v) => v === undefined) ? 'give intervalMs, minDelta or readMs' : undefined));

export const sensorKind = defineKind<SensorOptions, SensorDevice>({
  kind: 'sensor',
  title: 'a sensor input from sysfs (hwmon, thermal zone, 1-wire DS18B20, IIO), published on change or every intervalMs',
  options,
  commands: {
    get: command({
      description: 'read the input now and publish it, moved or not',
      args: s.none(),
      // A DS18B20 conversion is 750 ms; a bus that retries takes several.
      timeoutMs: 15_000,
      run: (d) => d.get(),
    }),
    configure: command({
      description: 'change when readings are published ({intervalMs, minDelta}) or taken ({readMs}), until the agent restarts',
      args: settings,
      timeoutMs: 5000,
      run: (d, a) => d.configure(Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined))),
    }),
  },
  events: {
    read_failed: 'a periodic read failed ({error}: device_error with its errno); once per new error, the state keeps the last good value',
    read_ok: 'reads work again after read_failed',
  },
  warnings(o, sim) {
    if (sim) return [];
    const used = new Set<string>(NAMES[o.source]);
    return Object.values(NAMES)
      .flat()
      .filter((k) => !used.has(k) && o[k] !== undefined)
      .map((k) => `${k} is not used by source ${o.source}`);
  },
  sim: async (ctx) => (await import('./sim.js')).sensorSim(ctx),
  create: (ctx) => new SensorDevice(ctx),
  homeassistant: sensorEntities,
  // Reading sysfs needs nothing the unit does not give: /sys is read-only, and readable, under ProtectKernelTunables=.
  sandbox: () => ({}),
  probe: sensorProbe,
});
