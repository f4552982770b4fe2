/**
 * What a sensor measures, in the unit it is published in, and how each
 * kernel interface's fixed-point numbers become that unit:
 *  - hwmon (Documentation/hwmon/sysfs-interface.rst): temp millidegree
 *    Celsius, in millivolt, curr milliampere, power microwatt, energy
 *    microjoule, humidity milli-percent, fan RPM;
 *  - thermal zones: millidegree Celsius; w1_therm: 1/1000 °C;
 *  - IIO (Documentation/ABI/testing/sysfs-bus-iio), after offset and scale
 *    (or `_input`): temp milli °C, humidityrelative milli percent, voltage
 *    millivolt, current milliamp, power milliwatt, pressure kilopascal,
 *    illuminance lux.
 * Each quantity carries what Home Assistant needs (device class, unit,
 * display precision, state class) and the default `minDelta`: a change
 * smaller than it is not worth a message (sensor noise, a DS18B20's
 * 1/16 °C steps).
 */
export type Quantity =
  'temperature' | 'humidity' | 'voltage' | 'current' | 'power' | 'energy' | 'fan' | 'pressure' | 'illuminance' | 'value';

export interface QuantityInfo {
  readonly unit: string;
  /** Home Assistant's sensor device class (none for a fan's RPM or a bare value). */
  readonly deviceClass: string | undefined;
  readonly stateClass: 'measurement' | 'total_increasing';
  readonly precision: number;
  readonly minDelta: number;
  readonly icon?: string;
}

export const QUANTITIES: Readonly<Record<Quantity, QuantityInfo>> = {
  temperature: { unit: '°C', deviceClass: 'temperature', stateClass: 'measurement', precision: 1, minDelta: 0.2 },
  humidity: { unit: '%', deviceClass: 'humidity', stateClass: 'measurement', precision: 1, minDelta: 1 },
  voltage: { unit: 'V', deviceClass: 'voltage', stateClass: 'measurement', precision: 3, minDelta: 0.01 },
  current: { unit: 'A', deviceClass: 'current', stateClass: 'measurement', precision: 3, minDelta: 0.01 },
  power: { unit: 'W', deviceClass: 'power', stateClass: 'measurement', precision: 2, minDelta: 0.1 },
  energy: { unit: 'Wh', deviceClass: 'energy', stateClass: 'total_increasing', precision: 3, minDelta: 1 },
  fan: { unit: 'RPM', deviceClass: undefined, stateClass: 'measurement', precision: 0, minDelta: 50, icon: 'mdi:fan' },
  pressure: { unit: 'kPa', deviceClass: 'pressure', stateClass: 'measurement', precision: 2, minDelta: 0.05 },
  illuminance: { unit: 'lx', deviceClass: 'illuminance', stateClass: 'measurement', precision: 0, minDelta: 5 },
  value: { unit: '', deviceClass: undefined, stateClass: 'measurement', precision: 2, minDelta: 0 },
};

/** hwmon input types: the quantity, and what one unit of the attribute is worth in the published unit. */
export const HWMON_TYPES: Readonly<Record<string, { quantity: Quantity; factor: number }>> = {
  temp: { quantity: 'temperature', factor: 1e-3 },
  in: { quantity: 'voltage', factor: 1e-3 },
  curr: { quantity: 'current', factor: 1e-3 },
  power: { quantity: 'power', factor: 1e-6 },
  // µJ to Wh: Home Assistant's energy sensors take Wh, not J.
  energy: { quantity: 'energy', factor: 1 / 3.6e9 },
  humidity: { quantity: 'humidity', factor: 1e-3 },
  fan: { quantity: 'fan', factor: 1 },
};

export const HWMON_INPUT = /^(temp|in|curr|power|energy|humidity|fan)(\d+)$/;

/** IIO channel types after offset and scale. */
export const IIO_TYPES: Readonly<Record<string, { quantity: Quantity; factor: number }>> = {
  temp: { quantity: 'temperature', factor: 1e-3 },
  humidityrelative: { quantity: 'humidity', factor: 1e-3 },
  voltage: { quantity: 'voltage', factor: 1e-3 },
  current: { quantity: 'current', factor: 1e-3 },
  power: { quantity: 'power', factor: 1e-3 },
  pressure: { quantity: 'pressure', factor: 1 },
  illuminance: { quantity: 'illuminance', factor: 1 },
};

/** `in_voltage0` → type voltage; `in_temp_ambient` → temp; `in_humidityrelative` → humidityrelative. */
export const IIO_CHANNEL = /^in_([a-z]+?)(\d*)(?:_([a-z][a-z0-9]*))?$/;

export interface IioChannel {
  /** `in_temp_ambient`. */
  readonly name: string;
  /** `in_temp`: the prefix of attributes shared by every channel of the type. */
  readonly shared: string;
  readonly type: string;
}

export function iioChannel(name: string): IioChannel | undefined {
  const m = IIO_CHANNEL.exec(name);
  if (!m) return undefined;
  return { name, shared: `in_${m[1]}`, type: m[1] as string };
}

/** The quantity an IIO channel measures, and the factor into its published unit (1 for types the ABI gives no unit). */
export function iioQuantity(channel: string): { quantity: Quantity; factor: number } {
  const c = iioChannel(channel);
  return (c && IIO_TYPES[c.type]) || { quantity: 'value', factor: 1 };
}

/** A reading rounded to what the quantity can mean (a float's 21.375000000000004 is 21.375). */
export function tidy(value: number, quantity: Quantity): number {
  const digits = Math.max(3, QUANTITIES[quantity].precision + 3);
  return Number(value.toFixed(digits));
}
