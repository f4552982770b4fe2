/**
 * What Home Assistant's MQTT integration accepts in a discovery config, per
 * platform, as its discovery schemas (homeassistant/components/mqtt/*.py,
 * schemas.py, config.py) and the MQTT integration docs
 * (home-assistant.io/integrations/{light,switch,binary_sensor,sensor,button}.mqtt)
 * define them: required keys, known keys (HA drops unknown ones silently, so
 * an unknown key is a typo we want to hear about), and what a rendered state
 * must look like for the entity to take it.
 */
import { render } from './jinja-eval.js';

/** MQTT_ENTITY_COMMON_SCHEMA, the availability schemas, SCHEMA_BASE, and the entity id keys. */
const COMMON = [
  'availability',
  'availability_mode',
  'availability_template',
  'availability_topic',
  'payload_available',
  'payload_not_available',
  'device',
  'origin',
  'enabled_by_default',
  'entity_category',
  'entity_picture',
  'icon',
  'json_attributes_topic',
  'json_attributes_template',
  'object_id',
  'default_entity_id',
  'unique_id',
  'name',
  'qos',
  'encoding',
];

export interface PlatformSpec {
  readonly required: readonly string[];
  readonly keys: readonly string[];
}

export const PLATFORMS: Record<string, PlatformSpec> = {
  /** light, schema: json (light/schema_json.py _PLATFORM_SCHEMA_BASE + MQTT_RW_SCHEMA). */
  light_json: {
    required: ['command_topic', 'schema'],
    keys: [
      'schema',
      'command_topic',
      'state_topic',
      'optimistic',
      'retain',
      'brightness',
      'brightness_scale',
      'color_temp_kelvin',
      'effect',
      'effect_list',
      'flash',
      'flash_time_long',
      'flash_time_short',
      'max_mireds',
      'min_mireds',
      'max_kelvin',
      'min_kelvin',
      'supported_color_modes',
      'transition',
      'white_scale',
    ],
  },
  /** light, default (basic) schema (light/schema_basic.py). */
  light_basic: {
    required: ['command_topic'],
    keys: [
      'schema',
      'command_topic',
      'state_topic',
      'state_value_template',
      'payload_on',
      'payload_off',
      'optimistic',
      'retain',
      'on_command_type',
      'brightness_command_topic',
      'brightness_command_template',
      'brightness_state_topic',
      'brightness_value_template',
      'brightness_scale',
      'effect_command_topic',
      'effect_command_template',
      'effect_state_topic',
      'effect_value_template',
      'effect_list',
      'color_mode_state_topic',
      'color_mode_value_template',
    ],
  },
  switch: {
    required: ['command_topic'],
    keys: [
      'command_topic',
      'command_template',
      'state_topic',
      'value_template',
      'payload_on',
      'payload_off',
      'state_on',
      'state_off',
      'optimistic',
      'retain',
      'device_class',
    ],
  },
  binary_sensor: {
    required: ['state_topic'],
    keys: ['state_topic', 'value_template', 'payload_on', 'payload_off', 'device_class', 'expire_after', 'force_update', 'off_delay'],
  },
  sensor: {
    required: ['state_topic'],
    keys: [
      'state_topic',
      'value_template',
      'device_class',
      'state_class',
      'unit_of_measurement',
      'suggested_display_precision',
      'expire_after',
      'force_update',
      'last_reset_value_template',
      'options',
    ],
  },
  button: {
    required: ['command_topic'],
    keys: ['command_topic', 'command_template', 'payload_press', 'retain', 'device_class'],
  },
  event: {
    required: ['state_topic', 'event_types'],
    keys: ['state_topic', 'event_types', 'value_template', 'device_class'],
  },
  number: {
    required: ['command_topic'],
    keys: [
      'command_topic',
      'command_template',
      'state_topic',
      'value_template',
      'min',
      'max',
      'step',
      'mode',
      'unit_of_measurement',
      'device_class',
      'optimistic',
      'payload_reset',
      'retain',
    ],
  },
  select: {
    required: ['command_topic', 'options'],
    keys: ['command_topic', 'command_template', 'state_topic', 'value_template', 'options', 'optimistic', 'retain'],
  },
};

const DEVICE_KEYS = [
  'identifiers',
  'connections',
  'manufacturer',
  'model',
  'model_id',
  'name',
  'hw_version',
  'serial_number',
  'sw_version',
  'via_device',
  'suggested_area',
  'configuration_url',
];
const ORIGIN_KEYS = ['name', 'sw_version', 'support_url'];
const AVAILABILITY_KEYS = ['topic', 'payload_available', 'payload_not_available', 'value_template'];
/** Sensor device classes whose state must be numeric (a subset: the ones kinds may reach for). */
const NUMERIC_SENSOR_CLASSES = [
  'signal_strength',
  'data_size',
  'data_rate',
  'duration',
  'temperature',
  'voltage',
  'current',
  'power',
  'energy',
  'frequency',
  'humidity',
  'battery',
  'distance',
  'pressure',
];
const SENSOR_CLASSES = [...NUMERIC_SENSOR_CLASSES, 'enum', 'timestamp', 'date'];
const BINARY_SENSOR_CLASSES = [
  'connectivity',
  'door',
  'opening',
  'power',
  'plug',
  'problem',
  'running',
  'motion',
  'moisture',
  'lock',
  'window',
  'occupancy',
  'presence',
  'safety',
  'tamper',
  'update',
  'vibration',
  'light',
  'moving',
  'sound',
  'smoke',
  'heat',
  'gas',
  'cold',
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'garage_door',
];
const BUTTON_CLASSES = ['identify', 'restart', 'update'];
const SWITCH_CLASSES = ['outlet', 'switch'];
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];
/** Topic keys that HA subscribes to, and the ones it publishes on. */
export const SUBSCRIBE_KEYS = [
  'state_topic',
  'json_attributes_topic',
  'availability_topic',
  'brightness_state_topic',
  'effect_state_topic',
  'color_mode_state_topic',
];
export const PUBLISH_KEYS = ['command_topic', 'brightness_command_topic', 'effect_command_topic'];
export const TEMPLATE_KEYS = [
  'value_template',
  'state_value_template',
  'brightness_value_template',
  'effect_value_template',
  'json_attributes_template',
  'availability_template',
  'command_template',
  'last_reset_value_template',
];

export function platformOf(component: string, config: Record<string, unknown>): string {
  if (component !== 'light') return component;
  return config.schema === 'json' ? 'light_json' : 'light_basic';
}

/** Every way a config would be refused by HA or lose a key. */
export function schemaProblems(component: string, config: Record<string, unknown>): string[] {
  const p: string[] = [];
  const platform = platformOf(component, config);
  const spec = PLATFORMS[platform];
  if (!spec) return [`no platform '${component}' in HA's MQTT integration (as far as this test knows)`];
  for (const k of spec.required) if (config[k] === undefined) p.push(`${platform}: required key '${k}' missing`);
  const known = new Set([...COMMON, ...spec.keys]);
  for (const k of Object.keys(config)) if (!known.has(k)) p.push(`${platform}: unknown key '${k}' (HA drops it)`);
  const str = (k: string): void => {
    if (config[k] !== undefined && typeof config[k] !== 'string') p.push(`${k} must be a string`);
  };
  [
    'unique_id',
    'object_id',
    'icon',
    'unit_of_measurement',
    'value_template',
    'payload_on',
    'payload_off',
    'payload_press',
    'state_on',
    'state_off',
  ].forEach(str);
  if (typeof config.icon === 'string' && !/^[a-z0-9_-]+:[a-z0-9_-]+$/.test(config.icon)) p.push(`icon '${config.icon}' is not prefix:name`);
  if (config.name !== null && config.name !== undefined && typeof config.name !== 'string') p.push('name must be a string or null');
  if (config.qos !== undefined && ![0, 1, 2].includes(config.qos as number)) p.push('qos must be 0, 1 or 2');
  if (config.entity_category !== undefined && !['config', 'diagnostic'].includes(config.entity_category as string))
    p.push(`entity_category '${String(config.entity_category)}'`);
  if (config.availability_mode !== undefined && !['all', 'any', 'latest'].includes(config.availability_mode as string))
    p.push('availability_mode');
  if (config.state_class !== undefined && !STATE_CLASSES.includes(config.state_class as string))
    p.push(`state_class '${String(config.state_class)}'`);
  const classes: Record<string, string[]> = {
    sensor: SENSOR_CLASSES,
    binary_sensor: BINARY_SENSOR_CLASSES,
    button: BUTTON_CLASSES,
    switch: SWITCH_CLASSES,
  };
  if (config.device_class !== undefined && classes[component] && !classes[component].includes(config.device_class as string)) {
    p.push(`device_class '${String(config.device_class)}' is not a ${component} device class this test knows`);
  }
  if (config.options !== undefined && config.device_class !== 'enum') p.push('options needs device_class enum');
  if (Array.isArray(config.availability)) {
    for (const a of config.availability as Array<Record<string, unknown>>) {
      if (typeof a.topic !== 'string') p.push('availability entry without topic');
      for (const k of Object.keys(a)) if (!AVAILABILITY_KEYS.includes(k)) p.push(`availability: unknown key '${k}'`);
    }
    if (config.availability_topic !== undefined) p.push('availability and availability_topic are exclusive');
  }
  const device = config.device as Record<string, unknown> | undefined;
  if (device) {
    for (const k of Object.keys(device)) if (!DEVICE_KEYS.includes(k)) p.push(`device: unknown key '${k}'`);
    if (!(Array.isArray(device.identifiers) && device.identifiers.length) && !device.connections)
      p.push('device needs identifiers or connections');
  }
  const origin = config.origin as Record<string, unknown> | undefined;
  if (origin) {
    for (const k of Object.keys(origin)) if (!ORIGIN_KEYS.includes(k)) p.push(`origin: unknown key '${k}'`);
    if (typeof origin.name !== 'string') p.push('origin.name is required');
  }
  if (platform === 'light_json') {
    if (config.brightness_scale !== undefined && !(Number.isInteger(config.brightness_scale) && (config.brightness_scale as number) >= 1))
      p.push('brightness_scale must be an int ≥ 1');
    if (config.effect === true && !Array.isArray(config.effect_list)) p.push('effect without effect_list');
    const modes = config.supported_color_modes as string[] | undefined;
    if (modes && (modes.includes('onoff') || modes.includes('brightness')) && modes.length > 1)
      p.push('onoff/brightness must be the only color mode');
  }
  return p;
}

/** What the entity makes of one state payload: its rendered value, or why HA would not take it. */
export function stateProblems(component: string, config: Record<string, unknown>, payload: string): { value: string; problems: string[] } {
  const platform = platformOf(component, config);
  const p: string[] = [];
  if (platform === 'light_json') {
    // schema_json.py reads values["state"] unguarded, brightness against brightness_scale, effect as is.
    const v = JSON.parse(payload) as Record<string, unknown>;
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
  const template = config.value_template as string | undefined;
  let value = payload;
  if (template) {
    const r = render(template, payload);
    value = r.output;
    p.push(...r.warnings.map((w) => `template warning: ${w}`));
  }
  if (component === 'binary_sensor') {
    const ok = [(config.payload_on as string | undefined) ?? 'ON', (config.payload_off as string | undefined) ?? 'OFF', 'None'];
    if (!ok.includes(value)) p.push(`binary_sensor renders '${value}', not one of ${ok.join(', ')}`);
  } else if (component === 'switch') {
    const on = (config.state_on ?? config.payload_on ?? 'ON') as string;
    const off = (config.state_off ?? config.payload_off ?? 'OFF') as string;
    if (![on, off, 'None'].includes(value)) p.push(`switch renders '${value}', not ${on}, ${off} or None`);
  } else if (component === 'sensor') {
    const numeric =
      config.state_class !== undefined ||
      config.unit_of_measurement !== undefined ||
      NUMERIC_SENSOR_CLASSES.includes(config.device_class as string);
    if (numeric && value !== 'None' && !(value !== '' && Number.isFinite(Number(value)))) p.push(`numeric sensor renders '${value}'`);
    if (Array.isArray(config.options) && !config.options.includes(value)) p.push(`enum sensor renders '${value}', not an option`);
    if (value.length > 255) p.push('sensor state longer than 255 characters');
  } else if (component === 'number') {
    // number.py: int() if isnumeric() else float(), refused when not a number or outside min..max (defaults 1 and 100).
    const n = Number(value);
    const min = (config.min as number | undefined) ?? 1;
    const max = (config.max as number | undefined) ?? 100;
    if (value !== 'None' && (value.trim() === '' || !Number.isFinite(n))) p.push(`number renders '${value}', not a number`);
    else if (n < min || n > max) p.push(`number ${value} outside ${min}..${max}`);
  }
  return { value, problems: p };
}
