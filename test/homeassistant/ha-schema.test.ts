/**
 * The HA schema check itself (test/helpers/ha-schema.ts) refuses what Home
 * Assistant refuses for a sensor: a unit its device class does not take, a
 * state_class on a timestamp, a measurement of energy, and a timestamp state
 * that is not an ISO 8601 time with a zone. Each check is shown failing, so
 * a kind's entities passing it means something.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaProblems } from '../helpers/ha-schema.js';
import { stateProblems } from '../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../helpers/ha-templates.js';

const base = { state_topic: 's', value_template: '{{ value_json.v }}' };

let templates: HaTemplates;

describe.skipIf(!haveJinja())('HA schema check: sensors', () => {
  beforeAll(() => {
    templates = HaTemplates.start();
  });
  afterAll(async () => {
    await templates?.close();
  });

  it('takes a temperature in °C, a data rate in B/s, a signal in dBm, a timestamp without unit or state class', () => {
    expect(
      schemaProblems('sensor', { ...base, device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement' }),
    ).toEqual([]);
    expect(
      schemaProblems('sensor', { ...base, device_class: 'data_rate', unit_of_measurement: 'B/s', state_class: 'measurement' }),
    ).toEqual([]);
    expect(schemaProblems('sensor', { ...base, device_class: 'signal_strength', unit_of_measurement: 'dBm' })).toEqual([]);
    expect(schemaProblems('sensor', { ...base, device_class: 'timestamp' })).toEqual([]);
  });

  it('refuses a unit the device class does not take, a numeric extra on a timestamp, energy as a measurement', () => {
    expect(schemaProblems('sensor', { ...base, device_class: 'temperature', unit_of_measurement: 'C' })).toEqual([
      "unit 'C' is not one HA takes for device_class temperature",
    ]);
    expect(schemaProblems('sensor', { ...base, device_class: 'timestamp', state_class: 'measurement' })).toEqual([
      'device_class timestamp is not numeric: no state_class or unit_of_measurement',
    ]);
    expect(schemaProblems('sensor', { ...base, device_class: 'energy', unit_of_measurement: 'Wh', state_class: 'measurement' })).toEqual([
      "state_class 'measurement' is not one HA takes for device_class energy",
    ]);
  });

  it('a timestamp state must be ISO 8601 with a zone (or None)', async () => {
    const ts = { ...base, device_class: 'timestamp' };
    expect((await stateProblems(templates, 'sensor', ts, JSON.stringify({ v: '2024-05-29T16:26:40.000Z' }))).problems).toEqual([]);
    expect((await stateProblems(templates, 'sensor', ts, JSON.stringify({ v: '2024-05-29T18:26:40+02:00' }))).problems).toEqual([]);
    expect((await stateProblems(templates, 'sensor', ts, JSON.stringify({ v: null }))).problems).toEqual([]);
    expect((await stateProblems(templates, 'sensor', ts, JSON.stringify({ v: '2024-05-29T16:26:40' }))).problems).toEqual([
      "timestamp sensor renders '2024-05-29T16:26:40', not an ISO 8601 time with a zone",
    ]);
    expect((await stateProblems(templates, 'sensor', ts, JSON.stringify({ v: 1717000000 }))).problems).toHaveLength(1);
  });
});
