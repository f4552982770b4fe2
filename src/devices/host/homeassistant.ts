/**
 * The node in Home Assistant, as its System Monitor integration shows a
 * machine: sensors with device classes and units (CPU temperature, usage,
 * load, frequency; memory; disk use and free space per mount; network rates
 * per interface; Wi-Fi signal), a `timestamp` sensor for the boot time (HA
 * shows "3 days ago" and records one value, not a counter that changes every
 * read), and `problem` binary sensors for the firmware's
 * throttling flags. What describes the machine rather than its load is in the
 * diagnostic category. A value the state has as null renders as None (HA:
 * unknown), never as 0. The board model goes in the device block.
 */
import type { HaDeclaration, HaDeviceInfo, HaEntity } from '../../homeassistant/entities.js';
import type { HostOptions } from './device.js';

/** A Jinja expression for a number in the state, None where it is null or its parent is missing. */
function num(parent: string, key: string, scale = ''): string {
  return `{{ (${parent}.${key}${scale}) if ${parent} is mapping and ${parent}.${key} is number else None }}`;
}

/** The part suffix for a name of the state (a mount, an interface): `/boot/firmware` → `boot_firmware`, `/` → `root`. */
export function partOf(name: string): string {
  const slug = name
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
  return slug || 'root';
}

const FLAGS: ReadonlyArray<[key: string, part: string, name: string]> = [
  ['underVoltage', 'under_voltage', 'Under-voltage'],
  ['underVoltageOccurred', 'under_voltage_since_boot', 'Under-voltage since boot'],
  ['frequencyCapped', 'frequency_capped', 'CPU frequency capped'],
  ['throttled', 'throttled', 'CPU throttled'],
  ['softTempLimit', 'soft_temp_limit', 'Soft temperature limit'],
];

export function hostEntities(info: HaDeviceInfo<HostOptions>): HaDeclaration {
  const o = info.options;
  const state = info.topics.state;
  const sensor = (part: string, name: string, template: string, extra: Record<string, unknown>): HaEntity => ({
    component: 'sensor',
    part,
    name,
    config: { state_topic: state, value_template: template, ...extra },
  });
  const measured = { state_class: 'measurement' };
  const diagnostic = { entity_category: 'diagnostic' };
  const cpu = 'value_json.cpu';
  const mem = 'value_json.memory';
  const out: HaEntity[] = [
    sensor('cpu_temperature', 'CPU temperature', num(cpu, 'temperature'), {
      device_class: 'temperature',
      unit_of_measurement: '°C',
      suggested_display_precision: 1,
      ...measured,
    }),
    sensor('cpu_usage', 'CPU usage', num(cpu, 'usagePercent'), {
      unit_of_measurement: '%',
      suggested_display_precision: 0,
      icon: 'mdi:cpu-64-bit',
      ...measured,
    }),
    sensor('load_1m', 'Load (1 min)', num(cpu, 'load1'), { suggested_display_precision: 2, icon: 'mdi:cpu-64-bit', ...measured }),
    sensor('load_15m', 'Load (15 min)', num(cpu, 'load15'), { suggested_display_precision: 2, icon: 'mdi:cpu-64-bit', ...measured }),
    sensor('cpu_frequency', 'CPU frequency', num(cpu, 'frequencyMHz'), {
      device_class: 'frequency',
      unit_of_measurement: 'MHz',
      suggested_display_precision: 0,
      ...measured,
      ...diagnostic,
    }),
    sensor('memory_used', 'Memory used', num(mem, 'usedPercent'), {
      unit_of_measurement: '%',
      suggested_display_precision: 1,
      icon: 'mdi:memory',
      ...measured,
    }),
    sensor('memory_available', 'Memory available', num(mem, 'availableBytes', ' / 1048576'), {
      device_class: 'data_size',
      unit_of_measurement: 'MiB',
      suggested_display_precision: 0,
      ...measured,
    }),
  ];
  for (const m of o.mounts) {
    const disk = `value_json.disks[${JSON.stringify(m)}]`;
    out.push(
      sensor(`disk_${partOf(m)}_used`, `Disk ${m} used`, num(disk, 'usedPercent'), {
        unit_of_measurement: '%',
        suggested_display_precision: 1,
        icon: 'mdi:harddisk',
        ...measured,
      }),
      sensor(`disk_${partOf(m)}_free`, `Disk ${m} free`, num(disk, 'availableBytes', ' / 1073741824'), {
        device_class: 'data_size',
        unit_of_measurement: 'GiB',
        suggested_display_precision: 1,
        ...measured,
      }),
    );
  }
  for (const i of o.interfaces) {
    const net = `value_json.network[${JSON.stringify(i)}]`;
    for (const [dir, key, word] of [
      ['in', 'rxBytesPerS', 'in'],
      ['out', 'txBytesPerS', 'out'],
    ] as const) {
      out.push(
        sensor(`${partOf(i)}_${dir}`, `${i} ${word}`, num(net, key, ' / 1000'), {
          device_class: 'data_rate',
          unit_of_measurement: 'kB/s',
          suggested_display_precision: 1,
          ...measured,
        }),
      );
    }
  }
  for (const i of o.wifi) {
    out.push(
      sensor(`${partOf(i)}_signal`, `${i} signal`, num(`value_json.wifi[${JSON.stringify(i)}]`, 'signalDbm'), {
        device_class: 'signal_strength',
        unit_of_measurement: 'dBm',
        ...measured,
        ...diagnostic,
      }),
    );
  }
  out.push(
    sensor('boot_time', 'Last boot', '{{ value_json.bootTime if value_json.bootTime is string else None }}', {
      device_class: 'timestamp',
      ...diagnostic,
    }),
  );
  if (o.throttling) {
    for (const [key, part, name] of FLAGS) {
      out.push({
        component: 'binary_sensor',
        part,
        name,
        config: {
          state_topic: state,
          value_template: `{{ ('ON' if value_json.throttled.${key} else 'OFF') if value_json.throttled is mapping else None }}`,
          payload_on: 'ON',
          payload_off: 'OFF',
          device_class: 'problem',
          ...diagnostic,
        },
      });
    }
  }
  // The board is the device's model in HA's device block, not a text sensor: a text
  // sensor has no unknown, and would show the word None until the first read.
  const model = info.state?.model;
  return { entities: out, hardware: { model: typeof model === 'string' ? model : undefined } };
}
