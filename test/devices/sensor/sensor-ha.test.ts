/**
 * `sensor` in Home Assistant: one sensor entity per device whose device
 * class, unit, state class and precision follow from what is measured. Each
 * source's entity passes the project's HA schema check (units per device
 * class included), and its template renders the state the device publishes
 * on a recorded tree — a number HA takes, or None before the first reading.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicScheme } from '../../../src/agent/topics.js';
import { sensorKind } from '../../../src/devices/sensor/kind.js';
import type { HaEntity } from '../../../src/homeassistant/entities.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { schemaProblems } from '../../helpers/ha-schema.js';
import { stateProblems } from '../../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../../helpers/ha-templates.js';
import { kindEntities } from '../../helpers/ha-entities.js';
import { sysTree, type Machine } from '../../helpers/recorded-trees.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'ha-sensor', groups: [] };

function entities(options: Record<string, unknown>, sim = false): HaEntity[] {
  return kindEntities(sensorKind, T, 's1', options, sim);
}

const CASES: Array<[Machine, Record<string, unknown>, Record<string, unknown>]> = [
  [
    'pi4',
    { source: 'w1', id: '28-3c01d607d8f1' },
    { device_class: 'temperature', unit_of_measurement: '°C', suggested_display_precision: 1 },
  ],
  ['pi4', { source: 'thermal', zone: 'cpu-thermal' }, { device_class: 'temperature', unit_of_measurement: '°C' }],
  ['pi4', { source: 'hwmon', chip: 'sht3x', input: 'humidity1' }, { device_class: 'humidity', unit_of_measurement: '%' }],
  ['pi4', { source: 'iio', device: 'dht11', channel: 'in_humidityrelative' }, { device_class: 'humidity', unit_of_measurement: '%' }],
  ['pi5', { source: 'iio', device: 'si7020', channel: 'in_temp' }, { device_class: 'temperature', unit_of_measurement: '°C' }],
  [
    'pi5',
    { source: 'hwmon', chip: 'ina219', input: 'in1' },
    { device_class: 'voltage', unit_of_measurement: 'V', suggested_display_precision: 3 },
  ],
  ['pi5', { source: 'hwmon', chip: 'ina219', input: 'curr1' }, { device_class: 'current', unit_of_measurement: 'A' }],
  ['pi5', { source: 'hwmon', chip: 'ina219', input: 'power1' }, { device_class: 'power', unit_of_measurement: 'W' }],
  [
    'pi5',
    { source: 'hwmon', chip: 'pwmfan', input: 'fan1' },
    { unit_of_measurement: 'RPM', icon: 'mdi:fan', suggested_display_precision: 0 },
  ],
  ['x86', { source: 'hwmon', chip: 'coretemp', input: 'temp1' }, { device_class: 'temperature' }],
];

let templates: HaTemplates;

describe.skipIf(!haveJinja())('sensor: Home Assistant entity', () => {
  beforeAll(() => {
    templates = HaTemplates.start();
  });
  afterAll(async () => {
    await templates?.close();
  });

  it('is one main sensor, a measurement with the device class and unit of what is read', () => {
    for (const [, options, want] of CASES) {
      const [e, ...rest] = entities(options);
      expect(rest).toEqual([]);
      expect(e).toMatchObject({ component: 'sensor', name: null, config: { state_class: 'measurement', ...want } });
      expect(schemaProblems('sensor', e!.config), JSON.stringify(options)).toEqual([]);
    }
  });

  it('an energy meter is a total that only grows, in Wh', () => {
    const [e] = entities({ source: 'hwmon', chip: 'amdgpu', input: 'energy1' });
    expect(e!.config).toMatchObject({ device_class: 'energy', unit_of_measurement: 'Wh', state_class: 'total_increasing' });
    expect(schemaProblems('sensor', e!.config)).toEqual([]);
  });

  it('a sim device on its defaults is a DS18B20: a temperature', () => {
    expect(entities({}, true)[0]!.config).toMatchObject({ device_class: 'temperature', unit_of_measurement: '°C' });
  });

  it('renders each state the device publishes on its recorded tree as HA takes it, and None before a reading', async () => {
    for (const [machine, options] of CASES) {
      const config = entities(options)[0]!.config;
      const t = await makeTestDevice(sensorKind, { options: { ...options, readMs: 3_600_000 }, sysfs: await sysTree(machine) });
      expect(await stateProblems(templates, 'sensor', config, JSON.stringify(t.device.state()))).toEqual({ value: 'None', problems: [] });
      await t.device.open();
      const state = (await t.run('get')) as { value: number };
      expect(await stateProblems(templates, 'sensor', config, JSON.stringify(state)), JSON.stringify(options)).toEqual({
        value: String(state.value),
        problems: [],
      });
      t.abort.abort();
    }
  });
});
