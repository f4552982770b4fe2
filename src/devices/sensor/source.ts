/**
 * One sensor input as the device reads it, whichever kernel interface it is
 * behind (hwmon.ts, thermal.ts, w1.ts, iio.ts): found once at open() by the
 * names in the options, then read as often as the device samples. A read
 * resolves to the value in its quantity's unit or fails with a KernelError
 * (the errno of the attribute, or EIO for a reading the driver returned but
 * that is no measurement: a 1-wire CRC failure, the DS18B20's power-on 85 °C).
 */
import { KernelError } from '../../kernel/errors.js';
import type { Sysfs } from '../../kernel/sysfs.js';
import type { Quantity } from './quantities.js';

export interface SensorSource {
  readonly quantity: Quantity;
  /** A name for people: the hwmon `tempN_label`, the zone's `type`, the 1-wire id, the IIO device and channel. */
  readonly label: string;
  /** Where it is read (the attribute's path, as the kernel names it), for state and messages. */
  readonly path: string;
  /** The chip's or device's name, remembered across reopens (hwmon: a renumbered chip is noticed). */
  readonly chip?: string;
  read(): Promise<number>;
}

/** The options every source is found by (only its own are set). */
export interface SourceOptions {
  readonly source: 'hwmon' | 'thermal' | 'w1' | 'iio';
  readonly chip?: string | undefined;
  readonly input?: string | undefined;
  readonly zone?: string | undefined;
  readonly id?: string | undefined;
  readonly device?: string | undefined;
  readonly channel?: string | undefined;
}

/** A read that returned text the kernel did not mean as a measurement: EIO on that attribute, with why. */
export function badReading(path: string, why: string, extra: Record<string, unknown> = {}): KernelError {
  const e = KernelError.of('EIO', { syscall: 'read', path });
  return Object.assign(e, { message: `${path}: ${why}`, ...extra });
}

/** A name the options give that matches nothing here: ENOENT naming what was looked for and what there is. */
export function notFound(path: string, what: string, have: readonly string[]): KernelError {
  const e = KernelError.of('ENOENT', { syscall: 'open', path });
  const list = have.length ? `; there is ${have.join(', ')}` : '; there is none';
  return Object.assign(e, { message: `${what} not found under ${path}${list}` });
}

/** A name that matches more than one: which, and how to say which one is meant. */
export function ambiguous(what: string, matches: readonly string[], hint: string): Error {
  return new Error(`${what} matches ${matches.join(', ')}: ${hint}`);
}

/** A decimal the kernel printed, integer or fixed point (IIO scales: `7.629394531`). */
export function fixedPoint(text: string, path: string): number {
  const t = text.trim();
  if (!/^-?\d+(\.\d+)?$/.test(t)) throw badReading(path, `holds '${t.slice(0, 40)}', not a number`);
  return Number(t);
}

/** The entries of a class or bus directory, none when it does not exist (no such driver loaded). */
export async function entries(sysfs: Sysfs, dir: string, pattern: RegExp): Promise<string[]> {
  return (await sysfs.list(dir).catch(() => [])).filter((n) => pattern.test(n));
}

/** The last path element of where a link points (a hwmon chip's parent device: `1-0044`, `nvme0`). */
export async function linkName(sysfs: Sysfs, rel: string): Promise<string | undefined> {
  return sysfs.readlink(rel).then(
    (l) => l.replace(/\/+$/, '').split('/').at(-1),
    () => undefined,
  );
}
