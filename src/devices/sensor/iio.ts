/**
 * An IIO channel (`/sys/bus/iio/devices/iio:deviceN/in_<type>[N][_mod]_*`;
 * ABI sysfs-bus-iio). A processed `_input` is taken as it is; otherwise the
 * value is (`_raw` + `_offset`) × `_scale`, where offset and scale are the
 * channel's own or shared by its type (`in_voltage_scale` for every
 * `in_voltageN`), an absent offset being 0 and an absent scale 1, as the ABI
 * says. Units after that are the ABI's (milli °C, milli percent, millivolt …),
 * converted to the published unit (quantities.ts). A device is found by
 * `iio:deviceN`, or by its `name` (the driver: `si7020`, `dht11`) or `label`.
 */
import type { Sysfs } from '../../kernel/sysfs.js';
import { iioChannel, iioQuantity, tidy } from './quantities.js';
import { ambiguous, badReading, entries, fixedPoint, notFound, type SensorSource } from './source.js';

const DEVICES = 'bus/iio/devices';

export interface IioDevice {
  readonly dir: string;
  readonly name: string | undefined;
  readonly label: string | undefined;
}

export async function iioDevices(sysfs: Sysfs): Promise<IioDevice[]> {
  const out: IioDevice[] = [];
  for (const dir of await entries(sysfs, DEVICES, /^iio:device\d+$/)) {
    const at = `${DEVICES}/${dir}`;
    out.push({
      dir,
      name: await sysfs.value(`${at}/name`).catch(() => undefined),
      label: await sysfs.value(`${at}/label`).catch(() => undefined),
    });
  }
  return out;
}

/** A device's input channels: each name once, from its `_input` or `_raw` attribute. */
export async function iioChannels(sysfs: Sysfs, dir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const f of await sysfs.list(`${DEVICES}/${dir}`).catch(() => [])) {
    const m = /^(in_[a-z0-9_]+?)_(input|raw)$/.exec(f);
    if (m && iioChannel(m[1] as string)) names.add(m[1] as string);
  }
  return [...names];
}

async function findDevice(sysfs: Sysfs, want: string): Promise<IioDevice> {
  const devices = await iioDevices(sysfs);
  const exact = devices.find((d) => d.dir === want);
  if (exact) return exact;
  const hits = devices.filter((d) => d.label === want || d.name === want);
  if (hits.length === 1) return hits[0] as IioDevice;
  if (hits.length > 1)
    throw ambiguous(
      `IIO device '${want}'`,
      hits.map((d) => d.dir),
      'name it iio:deviceN, or give each a label',
    );
  throw notFound(
    sysfs.path(DEVICES),
    `IIO device '${want}'`,
    devices.map((d) => `${d.dir} (${d.name ?? '?'})`),
  );
}

/** The first of the attributes that exists, as a number; `fallback` when none does. */
async function firstNumber(sysfs: Sysfs, rels: readonly string[], fallback: number): Promise<number> {
  for (const rel of rels) if (await sysfs.exists(rel)) return fixedPoint(await sysfs.read(rel), sysfs.path(rel));
  return fallback;
}

export async function iioSource(sysfs: Sysfs, deviceName: string, channelName: string): Promise<SensorSource> {
  const channel = iioChannel(channelName);
  if (!channel)
    throw new Error(`IIO channel '${channelName}' is not in_<type>[N][_modifier] (in_temp, in_humidityrelative, in_voltage0 …)`);
  const device = await findDevice(sysfs, deviceName);
  const at = `${DEVICES}/${device.dir}`;
  const { quantity, factor } = iioQuantity(channelName);
  const input = `${at}/${channelName}_input`;
  const raw = `${at}/${channelName}_raw`;
  const processed = await sysfs.exists(input);
  if (!processed && !(await sysfs.exists(raw))) {
    throw notFound(sysfs.path(at), `channel ${channelName} (_input or _raw)`, await iioChannels(sysfs, device.dir));
  }
  const rel = processed ? input : raw;
  const path = sysfs.path(rel);
  const read = async (): Promise<number> => {
    const text = await sysfs.read(rel);
    if (text.trim() === '') throw badReading(path, 'no reading');
    if (processed) return tidy(fixedPoint(text, path) * factor, quantity);
    const offset = await firstNumber(sysfs, [`${at}/${channel.name}_offset`, `${at}/${channel.shared}_offset`], 0);
    const scale = await firstNumber(sysfs, [`${at}/${channel.name}_scale`, `${at}/${channel.shared}_scale`], 1);
    return tidy((fixedPoint(text, path) + offset) * scale * factor, quantity);
  };
  return { quantity, label: `${device.label ?? device.name ?? device.dir} ${channelName}`, path, chip: device.name ?? device.dir, read };
}
