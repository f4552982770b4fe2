/**
 * Home Assistant: `sensor`s for signal quality and the byte counters, and a
 * `binary_sensor` per modem input line. All read the device state topic;
 * a line the port cannot report (a pty, TIOCMGET → ENOTTY) renders `None`,
 * which HA shows as unknown rather than off.
 */
import type { HaDeviceInfo, HaEntity } from '../../homeassistant/entities.js';
import type { SerialOptions } from './options.js';

const LINES = [
  { part: 'cts', name: 'CTS', icon: 'mdi:arrow-left-bold-circle-outline' },
  { part: 'dsr', name: 'DSR', icon: 'mdi:power-plug-outline' },
  { part: 'cd', name: 'Carrier detect', icon: 'mdi:phone-in-talk' },
  { part: 'ri', name: 'Ring indicator', icon: 'mdi:phone-ring' },
] as const;

export function serialEntities(device: HaDeviceInfo<SerialOptions>): HaEntity[] {
  const state = device.topics.state;
  const entities: HaEntity[] = [
    {
      component: 'sensor',
      part: 'signal',
      name: 'Signal strength',
      config: {
        state_topic: state,
        device_class: 'signal_strength',
        unit_of_measurement: 'dBm',
        state_class: 'measurement',
        value_template: '{{ value_json.signal.dbm if value_json.signal is mapping and value_json.signal.dbm is number else None }}',
      },
    },
    {
      component: 'sensor',
      part: 'signal_percent',
      name: 'Signal quality',
      config: {
        state_topic: state,
        unit_of_measurement: '%',
        state_class: 'measurement',
        icon: 'mdi:signal',
        value_template: '{{ value_json.signal.percent if value_json.signal is mapping and value_json.signal.percent is number else None }}',
      },
    },
    {
      component: 'sensor',
      part: 'rx_bytes',
      name: 'Received',
      config: {
        state_topic: state,
        device_class: 'data_size',
        unit_of_measurement: 'B',
        state_class: 'total_increasing',
        value_template: '{{ value_json.rxBytes }}',
        entity_category: 'diagnostic',
      },
    },
    {
      component: 'sensor',
      part: 'tx_bytes',
      name: 'Sent',
      config: {
        state_topic: state,
        device_class: 'data_size',
        unit_of_measurement: 'B',
        state_class: 'total_increasing',
        value_template: '{{ value_json.txBytes }}',
        entity_category: 'diagnostic',
      },
    },
  ];
  for (const l of LINES) {
    entities.push({
      component: 'binary_sensor',
      part: l.part,
      name: l.name,
      config: {
        state_topic: state,
        icon: l.icon,
        payload_on: 'ON',
        payload_off: 'OFF',
        value_template: `{{ ('ON' if value_json.lines.${l.part} else 'OFF') if value_json.lines is mapping else None }}`,
      },
    });
  }
  return entities;
}
