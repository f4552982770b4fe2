/**
 * A sensor in Home Assistant: one `sensor` entity, the device's main one,
 * whose device class, unit, state class and display precision follow from
 * what the options say is measured (known before the device opens: the
 * hwmon input's type, the IIO channel's type; thermal zones and 1-wire
 * thermometers measure temperature). The state's `value` is already in the
 * unit declared; null (not yet read) renders as None, which HA shows as
 * unknown.
 */
import type { HaDeviceInfo, HaEntity } from '../../homeassistant/entities.js';
import { simNames, type SensorOptions } from './device.js';
import { HWMON_INPUT, HWMON_TYPES, iioQuantity, QUANTITIES, type Quantity } from './quantities.js';

/** What a device of these options measures. */
export function quantityOf(options: SensorOptions, sim: boolean): Quantity {
  const names = sim ? { ...options, ...simNames(options) } : options;
  switch (options.source) {
    case 'hwmon':
      return HWMON_TYPES[HWMON_INPUT.exec(names.input ?? '')?.[1] ?? '']?.quantity ?? 'value';
    case 'iio':
      return iioQuantity(names.channel ?? '').quantity;
    default:
      return 'temperature';
  }
}

export function sensorEntities(info: HaDeviceInfo<SensorOptions>): HaEntity[] {
  const q = QUANTITIES[quantityOf(info.options, info.sim)];
  return [
    {
      component: 'sensor',
      name: null,
      config: {
        state_topic: info.topics.state,
        value_template: '{{ value_json.value }}',
        ...(q.deviceClass ? { device_class: q.deviceClass } : {}),
        ...(q.unit ? { unit_of_measurement: q.unit } : {}),
        state_class: q.stateClass,
        suggested_display_precision: q.precision,
        ...(q.icon ? { icon: q.icon } : {}),
      },
    },
  ];
}
