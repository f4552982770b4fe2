/**
 * What `dev2mqtt probe` finds of sensors, and the starter config: every
 * hwmon input, thermal zone, 1-wire thermometer and IIO input channel, one
 * device each, named the way that survives a reboot (a chip by its name, or
 * by its device when two chips share a name; a zone by its type when that is
 * unique). The hwmon twin the thermal core makes of every zone (`cpu_thermal`
 * for `cpu-thermal`) is left out: the zone is listed. hwmon and thermal
 * values are read for the listing; 1-wire and IIO ones are not, since a read
 * there is a conversion (750 ms on a DS18B20, a DHT22 may time out).
 */
import { defineProbe, type ProbeHost, type StarterDevice } from '../kind.js';
import { attrDir, hwmonChips, type HwmonChip } from './hwmon.js';
import { iioChannels, iioDevices } from './iio.js';
import { HWMON_INPUT, HWMON_TYPES, iioQuantity, QUANTITIES, tidy, type Quantity } from './quantities.js';
import { thermalZones } from './thermal.js';
import { W1_THERM_FAMILIES, w1Devices } from './w1.js';

export interface SensorFound {
  readonly source: 'hwmon' | 'thermal' | 'w1' | 'iio';
  /** The kernel's names, as the options take them. */
  readonly options: Record<string, string>;
  /** A device id to make (`sht3x-temp1`, `cpu-thermal`, `28-3c01d607d8f1`). */
  readonly name: string;
  readonly label: string;
  readonly quantity: Quantity;
  /** The value now, where reading is cheap (hwmon, thermal). */
  readonly value: number | undefined;
}

async function hwmonFound(host: ProbeHost, zoneTypes: ReadonlySet<string>): Promise<SensorFound[]> {
  const out: SensorFound[] = [];
  const chips = await hwmonChips(host.sysfs);
  // A name two chips share is no way to tell them apart: their devices are.
  const id = (c: HwmonChip): string => (c.name && chips.filter((x) => x.name === c.name).length === 1 ? c.name : (c.device ?? c.dir));
  for (const chip of chips) {
    if (chip.name && zoneTypes.has(chip.name)) continue;
    const files = new Set<string>();
    for (const dir of [`class/hwmon/${chip.dir}`, `class/hwmon/${chip.dir}/device`])
      for (const f of await host.sysfs.list(dir).catch(() => [])) if (/_input$/.test(f)) files.add(f.slice(0, -'_input'.length));
    for (const input of [...files].filter((f) => HWMON_INPUT.test(f)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
      const type = HWMON_TYPES[HWMON_INPUT.exec(input)?.[1] ?? ''];
      if (!type) continue;
      const dir = (await attrDir(host.sysfs, chip.dir, `${input}_input`)) ?? `class/hwmon/${chip.dir}`;
      const label = await host.sysfs.value(`${dir}/${input}_label`).catch(() => undefined);
      const raw = await host.sysfs.number(`${dir}/${input}_input`).catch((e: unknown) => {
        host.problem(`hwmon ${chip.dir} (${chip.name ?? '?'}) ${input}: ${(e as Error).message}`);
        return undefined;
      });
      out.push({
        source: 'hwmon',
        options: { chip: id(chip), input },
        name: `${id(chip)}-${input}`,
        label: label ?? `${chip.name ?? chip.dir} ${input}`,
        quantity: type.quantity,
        value: raw === undefined ? undefined : tidy(raw * type.factor, type.quantity),
      });
    }
  }
  return out;
}

async function scan(host: ProbeHost): Promise<SensorFound[]> {
  const zones = await thermalZones(host.sysfs);
  const thermal: SensorFound[] = [];
  for (const z of zones) {
    const unique = z.type !== undefined && zones.filter((x) => x.type === z.type).length === 1;
    const milli = await host.sysfs.number(`class/thermal/${z.zone}/temp`).catch((e: unknown) => {
      host.problem(`thermal ${z.zone}: ${(e as Error).message}`);
      return undefined;
    });
    thermal.push({
      source: 'thermal',
      options: { zone: unique ? z.type : z.zone },
      name: unique ? z.type : z.zone,
      label: z.type ?? z.zone,
      quantity: 'temperature',
      value: milli === undefined ? undefined : milli / 1000,
    });
  }
  const twins = new Set(zones.flatMap((z) => (z.type ? [z.type.replace(/-/g, '_')] : [])));
  const w1: SensorFound[] = (await w1Devices(host.sysfs))
    .filter((id) => W1_THERM_FAMILIES[id.slice(0, 2)])
    .map((id) => ({
      source: 'w1',
      options: { id },
      name: id,
      label: `${W1_THERM_FAMILIES[id.slice(0, 2)] ?? '1-wire'} ${id}`,
      quantity: 'temperature',
      value: undefined,
    }));
  const iio: SensorFound[] = [];
  const devices = await iioDevices(host.sysfs);
  for (const d of devices) {
    const unique = d.name !== undefined && devices.filter((x) => x.name === d.name).length === 1;
    const device = d.label ?? (unique ? d.name : d.dir);
    for (const channel of await iioChannels(host.sysfs, d.dir)) {
      iio.push({
        source: 'iio',
        options: { device, channel },
        name: `${device}-${channel}`,
        label: `${d.label ?? d.name ?? d.dir} ${channel}`,
        quantity: iioQuantity(channel).quantity,
        value: undefined,
      });
    }
  }
  return [...(await hwmonFound(host, twins)), ...thermal, ...w1, ...iio];
}

function describe(f: SensorFound): string {
  const q = QUANTITIES[f.quantity];
  const value = f.value === undefined ? '' : `  ${f.value} ${q.unit}`.trimEnd();
  const where = Object.entries(f.options)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `  ${f.source.padEnd(7)} ${where}  ${f.label}${value}`;
}

export const sensorProbe = defineProbe<SensorFound>({
  key: 'sensors',
  heading: (host) => `Sensors: hwmon, thermal zones, 1-wire, IIO (${host.sysfs.root})`,
  scan,
  describe: (found) => found.map(describe),
  starter: (found, host): StarterDevice[] =>
    found.map((f) => ({
      name: f.name,
      title: f.label,
      options: { source: f.source, ...f.options, ...(host.sysfs.root !== '/sys' ? { sysfsRoot: host.sysfs.root } : {}) },
    })),
});
