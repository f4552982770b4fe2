/**
 * What a Home Assistant entity makes of one message on the topic it reads,
 * its templates rendered by Jinja (ha-templates.ts), judged the way the
 * platforms judge them (as read from mqtt/binary_sensor.py, switch.py,
 * sensor.py, event.py, light/schema_json.py of HA's dev branch, 2026.10+):
 * - binary_sensor, switch: payload_on/state_on, payload_off/state_off, or
 *   `None` (unknown); an empty render is ignored; anything else is logged
 *   "No matching payload" and the state stays as it was;
 * - sensor: a numeric one (device class, state class or unit) takes a number
 *   or `None` (unknown); an enum one only its options; any other takes the
 *   text as is, so `None` would show as the word; at most 255 characters;
 * - event: the render is empty, `None` or `{}` (ignored), or a JSON object
 *   whose `event_type` is one of event_types;
 * - number: an empty render is ignored; payload_reset (`None`) is unknown;
 *   anything else must parse as a number within min..max (defaults 1 and
 *   100), else HA logs it and keeps the old value;
 * - light (JSON schema): reads the payload itself, `state` required;
 * and every template warning (an undefined value printed or tested) or error
 * (a render that fails, attributes that are not a JSON object) is a problem.
 */
import { NUMERIC_SENSOR_CLASSES, platformOf } from './ha-schema.js';
import type { HaTemplates, Rendered } from './ha-templates.js';

type Config = Record<string, unknown>;

/** ISO 8601 with a time zone: what HA's timestamp sensor parses (dt_util.parse_datetime, then refuses a naive time). */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export interface StateVerdict {
  /** What the entity shows: ON/OFF/None, the sensor value, the event type ('' when ignored). */
  readonly value: string;
  readonly problems: string[];
}

function renderProblems(what: string, r: Rendered): string[] {
  return [...(r.error ? [`${what}: ${r.error}`] : []), ...r.warnings.map((w) => `${what}: template warning: ${w}`)];
}

function lightProblems(config: Config, payload: string): StateVerdict {
  const p: string[] = [];
  const v = JSON.parse(payload) as Config;
  if (!('state' in v)) p.push("light state JSON has no 'state' key (HA raises KeyError)");
  else if (!['ON', 'OFF', null].includes(v.state as string | null)) p.push(`light state '${String(v.state)}' is not ON, OFF or null`);
  if (config.brightness && v.brightness !== undefined) {
    const b = v.brightness as number;
    if (typeof b !== 'number' || b < 0 || b > ((config.brightness_scale as number | undefined) ?? 255))
      p.push(`brightness ${String(b)} outside 0..brightness_scale`);
  }
  if (config.effect && v.effect !== undefined && !(config.effect_list as unknown[]).includes(v.effect))
    p.push(`effect '${String(v.effect)}' not in effect_list`);
  return { value: String(v.state), problems: p };
}

function sensorProblems(config: Config, value: string): string[] {
  const numeric =
    config.state_class !== undefined ||
    config.unit_of_measurement !== undefined ||
    NUMERIC_SENSOR_CLASSES.includes(config.device_class as string);
  if (numeric) return value === 'None' || (value !== '' && Number.isFinite(Number(value))) ? [] : [`numeric sensor renders '${value}'`];
  if (config.device_class === 'enum')
    return (config.options as string[]).includes(value) ? [] : [`enum sensor renders '${value}', not an option`];
  if (config.device_class === 'timestamp')
    return value === 'None' || (ISO_WITH_ZONE.test(value) && Number.isFinite(Date.parse(value)))
      ? []
      : [`timestamp sensor renders '${value}', not an ISO 8601 time with a zone`];
  if (value === 'None' || value === '') return [`text sensor renders '${value}' (HA shows it as is)`];
  return value.length > 255 ? ['sensor state longer than 255 characters'] : [];
}

function numberProblems(config: Config, value: string): string[] {
  if (value.trim() === '' || value === String(config.payload_reset ?? 'None')) return [];
  const n = Number(value);
  if (!Number.isFinite(n)) return [`number renders '${value}', not a number`];
  const min = (config.min as number | undefined) ?? 1;
  const max = (config.max as number | undefined) ?? 100;
  return n < min || n > max ? [`number ${value} outside ${min}..${max}`] : [];
}

function eventProblems(config: Config, value: string): StateVerdict {
  if (value === '' || value === 'None' || value === '{}') return { value: '', problems: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { value, problems: [`event renders '${value}', not JSON`] };
  }
  const type = (parsed as Config | null)?.event_type;
  if (typeof parsed !== 'object' || parsed === null || type === undefined)
    return { value, problems: [`event renders '${value}' without event_type`] };
  const types = config.event_types as string[];
  return { value: String(type), problems: types.includes(String(type)) ? [] : [`event type '${String(type)}' not in ${types.join(', ')}`] };
}

/** What the entity does with `payload` arriving on the topic it reads (state_topic; the event topic for events). */
export async function stateProblems(t: HaTemplates, component: string, config: Config, payload: string): Promise<StateVerdict> {
  if (platformOf(component, config) === 'light_json') return lightProblems(config, payload);
  const problems: string[] = [];
  if (typeof config.json_attributes_template === 'string' && config.json_attributes_topic === config.state_topic) {
    problems.push(
      ...renderProblems('attributes', await t.render({ mode: 'attributes', template: config.json_attributes_template, payload })),
    );
  }
  let value = payload;
  if (typeof config.value_template === 'string') {
    const r = await t.value(config.value_template, payload);
    problems.push(...renderProblems('value', r));
    if (r.output === null) return { value: '', problems };
    value = r.output;
  }
  if (component === 'event') {
    const e = eventProblems(config, value);
    return { value: e.value, problems: [...problems, ...e.problems] };
  }
  if (component === 'binary_sensor' || component === 'switch') {
    const on = String(config.state_on ?? config.payload_on ?? 'ON');
    const off = String(config.state_off ?? config.payload_off ?? 'OFF');
    if (![on, off, 'None'].includes(value)) problems.push(`${component} renders '${value}', not ${on}, ${off} or None`);
  } else if (component === 'sensor') {
    problems.push(...sensorProblems(config, value));
  } else if (component === 'number') {
    problems.push(...numberProblems(config, value));
  }
  return { value, problems };
}
