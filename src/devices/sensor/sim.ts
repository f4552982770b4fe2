/**
 * Sim sensors on the sim sysfs, one per source, for `sim: true` (loaded only
 * then) and for tests that take over a recorded tree's attribute:
 *  - a DS18B20 as w1_therm shows it: every read of `w1_slave` or
 *    `temperature` is a conversion that takes `conversionMs` (750 at 12 bits)
 *    on timers, never on the event loop; a test makes it fail the ways a bus
 *    does (a CRC mismatch, the power-on 85 °C, an empty read) and counts the
 *    conversions;
 *  - an hwmon chip, a thermal zone or an IIO device holding the configured
 *    input, its value moving slowly around `simValue` so a dashboard shows
 *    something alive.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SimSysfs } from '../../kernel/sysfs-sim.js';
import type { SimContext, SimParts } from '../kind.js';
import { SIM_DEFAULTS, simNames, type SensorOptions } from './device.js';
import { HWMON_INPUT, HWMON_TYPES, iioQuantity, QUANTITIES, type Quantity } from './quantities.js';

/** Dallas/Maxim CRC-8 (x^8 + x^5 + x^4 + 1, reflected): the scratchpad's ninth byte. */
export function w1Crc8(bytes: readonly number[]): number {
  let crc = 0;
  for (let b of bytes) {
    for (let i = 0; i < 8; i++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}

/** The nine scratchpad bytes of a DS18B20 holding `milli` (1/1000 °C), as w1_slave prints them. */
export function scratchpad(milli: number, countRemain?: number): number[] {
  const raw = Math.round(milli / 62.5) & 0xffff;
  const bytes = [raw & 0xff, raw >> 8, 0x4b, 0x46, 0x7f, 0xff, countRemain ?? 0x10 - (raw & 0x0f), 0x10];
  return [...bytes, w1Crc8(bytes)];
}

const hex = (bytes: readonly number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

export type W1Failure = 'crc' | 'power_on' | 'empty';

export class SimDs18b20 {
  /** The temperature the next conversion finds, in 1/1000 °C (rounded to the 1/16 °C a 12-bit conversion has). */
  milli = 21_375;
  /** Where each conversion takes the temperature from instead (the sim's slow drift), in °C. */
  follow: (() => number) | undefined;
  conversionMs = 750;
  /** How the next conversions fail, until cleared. */
  failure: W1Failure | undefined;
  conversions = 0;
  /** Conversions in flight now: more than one at a time would be a bus the driver serialises. */
  inFlight = 0;

  /** What `w1_slave` shows: two lines, or nothing when the conversion failed (newer kernels). */
  async w1Slave(): Promise<string> {
    await this.#convert();
    if (this.failure === 'empty') return '';
    if (this.failure === 'power_on') {
      const p = scratchpad(85_000, 0x0c);
      return `${hex(p)} : crc=${hex([p[8] as number])} YES\n${hex(p)} t=85000\n`;
    }
    const bytes = scratchpad(this.milli);
    const t = Math.round(Math.round(this.milli / 62.5) * 62.5);
    if (this.failure === 'crc') {
      const bad = [...bytes.slice(0, 8), (bytes[8] as number) ^ 0x5a];
      return `${hex(bad)} : crc=${hex([w1Crc8(bad.slice(0, 8))])} NO\n${hex(bytes)} t=${t}\n`;
    }
    return `${hex(bytes)} : crc=${hex([bytes[8] as number])} YES\n${hex(bytes)} t=${t}\n`;
  }

  /** What `temperature` shows: the value, or nothing when the conversion failed (CRC included). */
  async temperature(): Promise<string> {
    await this.#convert();
    if (this.failure === 'empty' || this.failure === 'crc') return '';
    return `${this.failure === 'power_on' ? 85_000 : Math.round(Math.round(this.milli / 62.5) * 62.5)}\n`;
  }

  async #convert(): Promise<void> {
    if (this.follow) this.milli = this.follow() * 1000;
    this.conversions++;
    this.inFlight++;
    try {
      await sleep(this.conversionMs);
    } finally {
      this.inFlight--;
    }
  }
}

/** Puts a DS18B20 model at `bus/w1/devices/ID` of a tree (a recorded one's files are taken over). */
export function attachDs18b20(tree: SimSysfs, id: string, model: SimDs18b20, opts: { temperature?: boolean } = {}): void {
  const dir = `devices/w1_bus_master1/${id}`;
  tree.mkdir(dir);
  tree.file(`${dir}/name`, `${id}\n`);
  tree.attr(`${dir}/w1_slave`, { show: () => model.w1Slave() });
  if (opts.temperature ?? true) tree.attr(`${dir}/temperature`, { show: () => model.temperature() });
  else tree.remove(`${dir}/temperature`);
  tree.link(`bus/w1/devices/${id}`, `../../../${dir}`);
}

const BASE: Readonly<Record<Quantity, number>> = {
  temperature: 21.5,
  humidity: 45,
  voltage: 3.3,
  current: 0.5,
  power: 2.5,
  energy: 100,
  fan: 1200,
  pressure: 101.3,
  illuminance: 300,
  value: 1,
};

/** A value that moves slowly (a ten-minute swing of five minDeltas) around `base`. */
function drifting(q: Quantity, base: number | undefined): () => number {
  const mid = base ?? BASE[q];
  const amp = QUANTITIES[q].minDelta * 5 || 0.5;
  return () => mid + amp * Math.sin((2 * Math.PI * Date.now()) / 600_000);
}

export function sensorSim(ctx: SimContext<SensorOptions>): SimParts & { tree: SimSysfs; ds18b20: SimDs18b20 | undefined } {
  const o = { ...ctx.options, ...simNames(ctx.options) };
  const tree = new SimSysfs('/sys');
  let ds18b20: SimDs18b20 | undefined;
  switch (o.source) {
    case 'w1': {
      ds18b20 = new SimDs18b20();
      ds18b20.conversionMs = o.simConversionMs ?? 750;
      ds18b20.follow = drifting('temperature', o.simValue);
      attachDs18b20(tree, o.id, ds18b20);
      break;
    }
    case 'hwmon': {
      const input = o.input;
      const type = HWMON_TYPES[HWMON_INPUT.exec(input)?.[1] ?? 'temp'] ?? { quantity: 'temperature' as const, factor: 1e-3 };
      const value = drifting(type.quantity, o.simValue);
      const chip = /^hwmon\d+$/.test(o.chip) ? SIM_DEFAULTS.chip : o.chip;
      const dir = 'devices/platform/sim-sensor/hwmon/hwmon0';
      tree.file(`${dir}/name`, `${chip}\n`);
      tree.attr(`${dir}/${input}_input`, { show: () => `${Math.round(value() / type.factor)}\n` });
      tree.link('class/hwmon/hwmon0', `../../${dir}`);
      break;
    }
    case 'thermal': {
      const value = drifting('temperature', o.simValue ?? 48);
      const zone = o.zone;
      const dir = 'devices/virtual/thermal/thermal_zone0';
      tree.file(`${dir}/type`, `${/^(thermal_zone)?\d+$/.test(zone) ? 'cpu-thermal' : zone}\n`);
      tree.attr(`${dir}/temp`, { show: () => `${Math.round(value() * 1000)}\n` });
      tree.link('class/thermal/thermal_zone0', `../../${dir}`);
      break;
    }
    case 'iio': {
      const channel = o.channel;
      const { quantity, factor } = iioQuantity(channel);
      const value = drifting(quantity, o.simValue);
      const dir = 'devices/platform/sim-iio/iio:device0';
      tree.file(`${dir}/name`, `${/^iio:device\d+$/.test(o.device) ? 'sim' : o.device}\n`);
      tree.attr(`${dir}/${channel}_input`, { show: () => `${Math.round(value() / factor)}\n` });
      tree.link('bus/iio/devices/iio:device0', `../../../${dir}`);
      break;
    }
  }
  return { sysfs: tree, tree, ds18b20 };
}
