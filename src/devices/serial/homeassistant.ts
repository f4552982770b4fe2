/**
 * Home Assistant: `sensor`s for signal quality and the byte counters, and a
 * `binary_sensor` per modem input line. All read the device state topic;
 * a line the port cannot report (a pty, TIOCMGET → ENOTTY) renders `None`,
 * which HA shows as unknown rather than off. The device's manufacturer,
 * model, firmware revision and IMEI are what the modem answered (identity.ts).
 */
import { binarySensor, sensor, type HaDeclaration, type HaDeviceInfo, type HaEntity } from '../../homeassistant/entities.js';
import type { ModemIdentity } from './identity.js';
import type { SerialOptions } from './options.js';

const LINES = [
  { part: 'cts', name: 'CTS', icon: 'mdi:arrow-left-bold-circle-outline' },
  { part: 'dsr', name: 'DSR', icon: 'mdi:power-plug-outline' },
  { part: 'cd', name: 'Carrier detect', icon: 'mdi:phone-in-talk' },
  { part: 'ri', name: 'Ring indicator', icon: 'mdi:phone-ring' },
] as const;

export function serialEntities(device: HaDeviceInfo<SerialOptions>): HaDeclaration {
  const topic = device.topics.state;
  const entities: HaEntity[] = [
    sensor({
      topic,
      part: 'signal',
      name: 'Signal strength',
      deviceClass: 'signal_strength',
      unit: 'dBm',
      stateClass: 'measurement',
      value: '{{ value_json.signal.dbm if value_json.signal is mapping and value_json.signal.dbm is number else None }}',
    }),
    sensor({
      topic,
      part: 'signal_percent',
      name: 'Signal quality',
      unit: '%',
      stateClass: 'measurement',
      icon: 'mdi:signal',
      value: '{{ value_json.signal.percent if value_json.signal is mapping and value_json.signal.percent is number else None }}',
    }),
    sensor({
      topic,
      part: 'rx_bytes',
      name: 'Received',
      deviceClass: 'data_size',
      unit: 'B',
      stateClass: 'total_increasing',
      value: '{{ value_json.rxBytes }}',
      category: 'diagnostic',
    }),
    sensor({
      topic,
      part: 'tx_bytes',
      name: 'Sent',
      deviceClass: 'data_size',
      unit: 'B',
      stateClass: 'total_increasing',
      value: '{{ value_json.txBytes }}',
      category: 'diagnostic',
    }),
    ...LINES.map((l) =>
      binarySensor({
        topic,
        part: l.part,
        name: l.name,
        icon: l.icon,
        value: `{{ ('ON' if value_json.lines.${l.part} else 'OFF') if value_json.lines is mapping else None }}`,
      }),
    ),
  ];
  const modem = device.state?.modem as ModemIdentity | null | undefined;
  return {
    entities,
    hardware: { manufacturer: modem?.manufacturer, model: modem?.model, hwVersion: modem?.revision, serialNumber: modem?.imei },
  };
}
