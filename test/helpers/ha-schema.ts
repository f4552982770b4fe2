/**
 * What Home Assistant's MQTT integration accepts in a discovery config, as
 * its discovery code and platform schemas define it — read from
 * home-assistant/core's dev branch after HA 2026.10 (mqtt/schemas.py written
 * against probatio, `object_id` removed in 2026.4 after `default_entity_id`
 * replaced it in 2025.10; device-based discovery since 2024.11):
 * mqtt/discovery.py (topic pattern, abbreviations, the device-based form and
 * how its shared options reach each component, removal by a platform-only
 * entry), mqtt/schemas.py (DEVICE_DISCOVERY_SCHEMA, MQTT_ENTITY_COMMON_SCHEMA,
 * SHARED_OPTIONS), mqtt/abbreviations.py, and the platform modules
 * (light/schema_json.py, switch.py, binary_sensor.py, sensor.py, button.py,
 * event.py, number.py, select.py).
 *
 * Per platform: required keys, and known keys (an entity platform drops
 * unknown ones silently, so an unknown key is a typo we want to hear about;
 * the device-based envelope refuses unknown keys outright).
 */

/** mqtt/discovery.py TOPIC_MATCHER, after the prefix. */
export const TOPIC_MATCHER = /^(\w+)\/(?:([a-zA-Z0-9_-]+)\/)?([a-zA-Z0-9_-]+)\/config$/;

/** Platforms discovery subscribes to (mqtt/const.py SUPPORTED_COMPONENTS, the ones this project may use and their neighbours). */
const SUPPORTED_COMPONENTS = [
  'alarm_control_panel',
  'binary_sensor',
  'button',
  'camera',
  'climate',
  'cover',
  'device_automation',
  'device_tracker',
  'event',
  'fan',
  'humidifier',
  'image',
  'lawn_mower',
  'light',
  'lock',
  'notify',
  'number',
  'scene',
  'select',
  'sensor',
  'siren',
  'switch',
  'tag',
  'text',
  'update',
  'vacuum',
  'valve',
  'water_heater',
];

/** The abbreviations a payload may use (abbreviations.py), for the keys entities of this project carry. */
const ABBREVIATIONS: Record<string, string> = {
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  bri_scl: 'brightness_scale',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  def_ent_id: 'default_entity_id',
  dev: 'device',
  dev_cla: 'device_class',
  e: 'encoding',
  en: 'enabled_by_default',
  ent_cat: 'entity_category',
  fx_list: 'effect_list',
  ic: 'icon',
  json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template',
  o: 'origin',
  ops: 'options',
  p: 'platform',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  pl_prs: 'payload_press',
  stat_cla: 'state_class',
  stat_off: 'state_off',
  stat_on: 'state_on',
  stat_t: 'state_topic',
  sup_clrm: 'supported_color_modes',
  t: 'topic',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
};
const DEVICE_ABBREVIATIONS: Record<string, string> = {
  cns: 'connections',
  cu: 'configuration_url',
  hw: 'hw_version',
  ids: 'identifiers',
  mdl: 'model',
  mdl_id: 'model_id',
  mf: 'manufacturer',
  sa: 'suggested_area',
  sn: 'serial_number',
  sw: 'sw_version',
};
const ORIGIN_ABBREVIATIONS: Record<string, string> = { sw: 'sw_version', url: 'support_url' };

type Config = Record<string, unknown>;

function expand(o: unknown, table: Record<string, string>): Config {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return {};
  return Object.fromEntries(Object.entries(o as Config).map(([k, v]) => [table[k] ?? k, v]));
}

/** The availability schemas (shared by the envelope and every entity). */
const AVAILABILITY = [
  'availability',
  'availability_mode',
  'availability_template',
  'availability_topic',
  'payload_available',
  'payload_not_available',
];
/** MQTT_ENTITY_COMMON_SCHEMA and what every entity platform adds (qos, encoding, name, platform). */
const COMMON = [
  ...AVAILABILITY,
  'device',
  'origin',
  'enabled_by_default',
  'entity_category',
  'entity_picture',
  'icon',
  'json_attributes_topic',
  'json_attributes_template',
  'default_entity_id',
  'message_expiry_interval',
  'unique_id',
  'visible_by_default',
  'name',
  'qos',
  'encoding',
  'platform',
];
/** schemas.py SHARED_OPTIONS: what a device-based config's top passes to each component that does not set it. */
const SHARED_OPTIONS = [...AVAILABILITY, 'command_topic', 'encoding', 'message_expiry_interval', 'state_topic', 'qos'];
/** DEVICE_DISCOVERY_SCHEMA: nothing else may stand at the top. */
const ENVELOPE = [
  ...AVAILABILITY,
  'device',
  'components',
  'origin',
  'state_topic',
  'command_topic',
  'message_expiry_interval',
  'qos',
  'encoding',
];

export interface PlatformSpec {
  readonly required: readonly string[];
  readonly keys: readonly string[];
}

export const PLATFORMS: Record<string, PlatformSpec> = {
  /** light, schema: json (light/schema_json.py). */
  light_json: {
    required: ['command_topic', 'schema'],
    keys: [
      ...['schema', 'command_topic', 'state_topic', 'optimistic', 'retain', 'brightness', 'brightness_scale', 'color_temp_kelvin'],
      ...['effect', 'effect_list', 'flash', 'flash_time_long', 'flash_time_short', 'max_mireds', 'min_mireds', 'max_kelvin'],
      ...['min_kelvin', 'supported_color_modes', 'transition', 'white_scale'],
    ],
  },
  switch: {
    required: ['command_topic'],
    keys: [
      ...['command_topic', 'command_template', 'state_topic', 'value_template', 'payload_on', 'payload_off', 'state_on', 'state_off'],
      ...['optimistic', 'retain', 'device_class'],
    ],
  },
  binary_sensor: {
    required: ['state_topic'],
    keys: ['state_topic', 'value_template', 'payload_on', 'payload_off', 'device_class', 'expire_after', 'force_update', 'off_delay'],
  },
  sensor: {
    required: ['state_topic'],
    keys: [
      ...['state_topic', 'value_template', 'device_class', 'state_class', 'unit_of_measurement', 'suggested_display_precision'],
      ...['expire_after', 'force_update', 'last_reset_value_template', 'options'],
    ],
  },
  button: { required: ['command_topic'], keys: ['command_topic', 'command_template', 'payload_press', 'retain', 'device_class'] },
  event: { required: ['state_topic', 'event_types'], keys: ['state_topic', 'event_types', 'value_template', 'device_class'] },
  number: {
    required: ['command_topic'],
    keys: [
      ...['command_topic', 'command_template', 'state_topic', 'value_template', 'min', 'max', 'step', 'mode', 'unit_of_measurement'],
      ...['device_class', 'optimistic', 'payload_reset', 'retain'],
    ],
  },
  select: {
    required: ['command_topic', 'options'],
    keys: ['command_topic', 'command_template', 'state_topic', 'value_template', 'options', 'optimistic', 'retain'],
  },
};

const DEVICE_KEYS = [
  ...['identifiers', 'connections', 'manufacturer', 'model', 'model_id', 'name', 'hw_version', 'serial_number', 'sw_version'],
  ...['via_device', 'suggested_area', 'configuration_url'],
];
const ORIGIN_KEYS = ['name', 'sw_version', 'support_url'];
const AVAILABILITY_KEYS = ['topic', 'payload_available', 'payload_not_available', 'value_template'];
/** Sensor device classes whose state must be a number (the ones kinds may reach for). */
export const NUMERIC_SENSOR_CLASSES = [
  ...['apparent_power', 'battery', 'current', 'data_rate', 'data_size', 'distance', 'duration', 'energy', 'frequency', 'humidity'],
  ...['illuminance', 'power', 'power_factor', 'pressure', 'signal_strength', 'sound_pressure', 'speed', 'temperature', 'voltage'],
  'volume',
];
/** Device classes whose state is not a number: HA refuses them a state_class or a unit (sensor/__init__.py). */
const NON_NUMERIC_SENSOR_CLASSES = ['enum', 'timestamp', 'date'];
/**
 * The units HA accepts per device class (sensor/const.py DEVICE_CLASS_UNITS, for the classes kinds use);
 * another unit is logged as invalid and the entity's long-term statistics are not compiled.
 */
const SENSOR_UNITS: Record<string, readonly string[]> = {
  signal_strength: ['dB', 'dBm'],
  data_size: ['bit', 'kbit', 'Mbit', 'Gbit', 'B', 'kB', 'MB', 'GB', 'TB', 'PB', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'],
  data_rate: ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'B/s', 'kB/s', 'MB/s', 'GB/s', 'KiB/s', 'MiB/s', 'GiB/s'],
  duration: ['d', 'h', 'min', 's', 'ms', 'µs'],
  temperature: ['°C', '°F', 'K'],
  voltage: ['V', 'mV', 'µV', 'kV', 'MV'],
  current: ['A', 'mA'],
  power: ['W', 'kW', 'mW', 'MW', 'GW', 'TW'],
  energy: ['Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'mWh', 'MJ', 'GJ'],
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  humidity: ['%'],
  battery: ['%'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'yd', 'in', 'ft'],
  pressure: ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi'],
  illuminance: ['lx'],
};
/** State classes a device class allows, where HA restricts them (energy is a total, never a measurement). */
const SENSOR_STATE_CLASSES: Record<string, readonly string[]> = { energy: ['total', 'total_increasing'] };
const CLASSES: Record<string, readonly string[]> = {
  sensor: [...NUMERIC_SENSOR_CLASSES, ...NON_NUMERIC_SENSOR_CLASSES],
  binary_sensor: [
    ...['battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light'],
    ...['lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running'],
    ...['safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window'],
  ],
  button: ['identify', 'restart', 'update'],
  switch: ['outlet', 'switch'],
  event: ['button', 'doorbell', 'motion'],
};
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];

/** Topic keys that HA subscribes to, and the ones it publishes on. */
export const SUBSCRIBE_KEYS = ['state_topic', 'json_attributes_topic', 'availability_topic'];
export const PUBLISH_KEYS = ['command_topic'];
export const TEMPLATE_KEYS = [
  'value_template',
  'json_attributes_template',
  'availability_template',
  'command_template',
  'last_reset_value_template',
];

export function platformOf(component: string, config: Config): string {
  if (component !== 'light') return component;
  return config.schema === 'json' ? 'light_json' : 'light_basic';
}

function blockProblems(what: string, block: unknown, keys: readonly string[], table: Record<string, string>): string[] {
  const b = expand(block, table);
  return Object.keys(b)
    .filter((k) => !keys.includes(k))
    .map((k) => `${what}: unknown key '${k}'`);
}

/**
 * Every way an entity config (abbreviations expanded, shared options merged)
 * would be refused by HA or lose a key. `own`: the keys the entity itself set
 * — only those can be typos; inherited shared options a platform does not
 * use are dropped by HA without harm.
 */
export function schemaProblems(component: string, config: Config, own: readonly string[] = Object.keys(config)): string[] {
  const p: string[] = [];
  const platform = platformOf(component, config);
  const spec = PLATFORMS[platform];
  if (!spec) return [`no platform '${component}' in HA's MQTT integration (as far as this test knows)`];
  for (const k of spec.required) if (config[k] === undefined) p.push(`${platform}: required key '${k}' missing`);
  const known = new Set([...COMMON, ...spec.keys]);
  for (const k of own) if (!known.has(k)) p.push(`${platform}: unknown key '${k}' (HA drops it)`);
  const str = (k: string): void => {
    if (config[k] !== undefined && typeof config[k] !== 'string') p.push(`${k} must be a string`);
  };
  ['unique_id', 'default_entity_id', 'icon', 'unit_of_measurement', 'value_template', 'payload_on', 'payload_off', 'payload_press'].forEach(
    str,
  );
  if (typeof config.icon === 'string' && !/^[a-z0-9_-]+:[a-z0-9_-]+$/.test(config.icon)) p.push(`icon '${config.icon}' is not prefix:name`);
  if (typeof config.default_entity_id === 'string' && !config.default_entity_id.startsWith(`${component}.`))
    p.push(`default_entity_id '${config.default_entity_id}' is not in the ${component} domain`);
  if (config.name !== null && config.name !== undefined && typeof config.name !== 'string') p.push('name must be a string or null');
  if (config.qos !== undefined && ![0, 1, 2].includes(config.qos as number)) p.push('qos must be 0, 1 or 2');
  if (config.entity_category !== undefined && !['config', 'diagnostic'].includes(config.entity_category as string))
    p.push(`entity_category '${String(config.entity_category)}'`);
  if (config.availability_mode !== undefined && !['all', 'any', 'latest'].includes(config.availability_mode as string))
    p.push('availability_mode');
  if (config.state_class !== undefined && !STATE_CLASSES.includes(config.state_class as string))
    p.push(`state_class '${String(config.state_class)}'`);
  const classes = CLASSES[component];
  if (config.device_class !== undefined && classes && !classes.includes(config.device_class as string))
    p.push(`device_class '${String(config.device_class)}' is not a ${component} device class this test knows`);
  if (component === 'event' && !(Array.isArray(config.event_types) && config.event_types.length))
    p.push('event_types must be a non-empty list');
  if (component === 'sensor') {
    if (config.options !== undefined && config.device_class !== 'enum') p.push('options needs device_class enum');
    // enum is among the non-numeric classes: the check below refuses it a state_class or a unit.
    const dc = config.device_class as string | undefined;
    const units = dc ? SENSOR_UNITS[dc] : undefined;
    if (units && config.unit_of_measurement !== undefined && !units.includes(config.unit_of_measurement as string))
      p.push(`unit '${String(config.unit_of_measurement)}' is not one HA takes for device_class ${dc}`);
    if (dc && NON_NUMERIC_SENSOR_CLASSES.includes(dc) && (config.state_class !== undefined || config.unit_of_measurement !== undefined))
      p.push(`device_class ${dc} is not numeric: no state_class or unit_of_measurement`);
    const states = dc ? SENSOR_STATE_CLASSES[dc] : undefined;
    if (states && config.state_class !== undefined && !states.includes(config.state_class as string))
      p.push(`state_class '${String(config.state_class)}' is not one HA takes for device_class ${dc}`);
  }
  if (Array.isArray(config.availability)) {
    for (const a of config.availability as Config[]) {
      if (typeof a.topic !== 'string') p.push('availability entry without topic');
      p.push(...blockProblems('availability', a, AVAILABILITY_KEYS, ABBREVIATIONS));
    }
    if (config.availability_topic !== undefined) p.push('availability and availability_topic are exclusive');
  }
  const device = expand(config.device, DEVICE_ABBREVIATIONS);
  if (config.device !== undefined) {
    p.push(...blockProblems('device', config.device, DEVICE_KEYS, DEVICE_ABBREVIATIONS));
    if (!(Array.isArray(device.identifiers) && device.identifiers.length) && !device.connections)
      p.push('device needs identifiers or connections');
    for (const [k, v] of Object.entries(device))
      if (k !== 'identifiers' && k !== 'connections' && typeof v !== 'string') p.push(`device.${k} must be a string`);
  }
  const origin = expand(config.origin, ORIGIN_ABBREVIATIONS);
  if (config.origin !== undefined) {
    p.push(...blockProblems('origin', config.origin, ORIGIN_KEYS, ORIGIN_ABBREVIATIONS));
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

export interface DiscoveredComponent {
  /** The key in `cmps` (per-entity form: the topic's object id). */
  readonly key: string;
  readonly component: string;
  /** As the platform gets it: abbreviations expanded, shared options, device and origin merged in. */
  readonly config: Config;
  /** Only `{"p": …}`: HA removes the entity. */
  readonly removal: boolean;
}

/** A device-based config as HA takes it apart: the envelope's problems, and each component as its platform gets it. */
export function deviceConfigProblems(payload: unknown): { problems: string[]; components: DiscoveredComponent[] } {
  const problems: string[] = [];
  const top = expand(payload, ABBREVIATIONS);
  for (const k of Object.keys(top))
    if (!ENVELOPE.includes(k)) problems.push(`device config: unknown key '${k}' (HA refuses the whole config)`);
  const device = expand(top.device, DEVICE_ABBREVIATIONS);
  if (!(Array.isArray(device.identifiers) && device.identifiers.length)) problems.push('device config: dev needs identifiers');
  if (typeof expand(top.origin, ORIGIN_ABBREVIATIONS).name !== 'string') problems.push('device config: o (origin) with a name is required');
  const cmps = top.components;
  if (!cmps || typeof cmps !== 'object' || Array.isArray(cmps))
    return { problems: [...problems, 'device config: cmps must be an object'], components: [] };
  const components: DiscoveredComponent[] = [];
  for (const [key, raw] of Object.entries(cmps as Config)) {
    const own = expand(raw, ABBREVIATIONS);
    const component = own.platform as string;
    if (!SUPPORTED_COMPONENTS.includes(component)) problems.push(`${key}: platform '${String(component)}' is not supported`);
    if (/\s/.test(key)) problems.push(`${key}: a component id may not contain spaces (HA splits discovery ids on them)`);
    const removal = Object.keys(own).length === 1;
    if (!removal && typeof own.unique_id !== 'string') problems.push(`${key}: unique_id is required in a device-based config`);
    const config: Config = { ...own };
    if (!removal) {
      for (const k of SHARED_OPTIONS) if (top[k] !== undefined && config[k] === undefined) config[k] = top[k];
      config.device = top.device;
      config.origin = top.origin;
      problems.push(...schemaProblems(component, config, Object.keys(own)).map((x) => `${key}: ${x}`));
    }
    components.push({ key, component, config, removal });
  }
  return { problems, components };
}
