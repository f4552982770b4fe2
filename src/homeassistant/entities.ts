/**
 * What a device kind declares for Home Assistant. The discovery module adds
 * what every entity shares (unique_id, default_entity_id, availability,
 * device, origin) and publishes the configs; a kind only says which entities
 * it has, how they map onto its state, command and event topics, and what
 * its hardware told about itself (model, serial number …).
 *
 * The builders below (sensor, binarySensor, button, event) spell the keys Home
 * Assistant knows, so a kind gets device classes, state classes, units and
 * entity categories right by type rather than by memory.
 */

export type HaComponent = 'light' | 'switch' | 'binary_sensor' | 'sensor' | 'button' | 'event' | 'number' | 'select';

export interface HaEntity {
  readonly component: HaComponent;
  /**
   * Names an entity among its device's (`rewind`, `cts`): [a-z0-9_], part of
   * the entity's unique_id and default entity id. The main entity has none.
   */
  readonly part?: string;
  /** Entity name shown in HA; null makes it the device's main entity. */
  readonly name: string | null;
  /** Platform keys: state_topic, command_topic, value_template … (topics from HaTopics). */
  readonly config: Readonly<Record<string, unknown>>;
}

/** What the hardware says about itself; a field it does not tell may be left out or undefined. */
export interface HaHardware {
  readonly manufacturer?: string | undefined;
  readonly model?: string | undefined;
  readonly hwVersion?: string | undefined;
  readonly serialNumber?: string | undefined;
}

/** A kind's full answer: its entities and, where the hardware tells, what it is. */
export interface HaDeclaration {
  readonly entities: readonly HaEntity[];
  readonly hardware?: HaHardware;
}

/** The topics of one device, for kinds to use in their entity configs. */
export interface HaTopics {
  readonly state: string;
  readonly event: string;
  readonly availability: string;
  command(name: string): string;
}

export interface HaDeviceInfo<O> {
  readonly id: string;
  readonly name: string;
  readonly options: O;
  readonly sim: boolean;
  readonly topics: HaTopics;
  /**
   * The device's state as it publishes it (what was read from the hardware:
   * an LED's triggers and max_brightness, a modem's identity), or undefined
   * before the device has had a state at all.
   */
  readonly state: Readonly<Record<string, unknown>> | undefined;
}

/** A kind may answer with its entities alone (the first plug-in interface) or with a declaration. */
export function declarationOf(answer: readonly HaEntity[] | HaDeclaration): HaDeclaration {
  return Array.isArray(answer) ? { entities: answer as readonly HaEntity[] } : (answer as HaDeclaration);
}

// ---- the vocabulary (Home Assistant's names, as its entity platforms define them) ----

export type HaEntityCategory = 'diagnostic' | 'config';
export type HaStateClass = 'measurement' | 'measurement_angle' | 'total' | 'total_increasing';
/** Sensor device classes a kind on a Linux machine is likely to need. */
export type HaSensorClass =
  | 'apparent_power'
  | 'battery'
  | 'current'
  | 'data_rate'
  | 'data_size'
  | 'date'
  | 'distance'
  | 'duration'
  | 'energy'
  | 'enum'
  | 'frequency'
  | 'humidity'
  | 'illuminance'
  | 'power'
  | 'power_factor'
  | 'pressure'
  | 'signal_strength'
  | 'sound_pressure'
  | 'speed'
  | 'temperature'
  | 'timestamp'
  | 'voltage'
  | 'volume';
export type HaBinarySensorClass =
  | 'battery'
  | 'cold'
  | 'connectivity'
  | 'door'
  | 'heat'
  | 'light'
  | 'lock'
  | 'moisture'
  | 'motion'
  | 'moving'
  | 'occupancy'
  | 'opening'
  | 'plug'
  | 'power'
  | 'presence'
  | 'problem'
  | 'running'
  | 'safety'
  | 'smoke'
  | 'sound'
  | 'tamper'
  | 'update'
  | 'vibration'
  | 'window';
export type HaButtonClass = 'identify' | 'restart' | 'update';
export type HaEventClass = 'button' | 'doorbell' | 'motion';

interface Common {
  readonly part?: string;
  readonly name: string | null;
  readonly category?: HaEntityCategory;
  /** `mdi:…` */
  readonly icon?: string;
  /** false: the entity starts disabled (users enable it in HA). */
  readonly enabledByDefault?: boolean;
}

interface Reads {
  /** The topic it reads: the device's state topic, usually. */
  readonly topic: string;
  /** Renders the state from `value_json` (the payload); HA renders `None` as unknown. */
  readonly value: string;
  /** Extra attributes: a topic (the state topic, say) and optionally a template making a JSON object of it. */
  readonly attributes?: { readonly topic: string; readonly template?: string };
}

function common(c: Common, config: Record<string, unknown>): Record<string, unknown> {
  return {
    ...config,
    ...(c.category ? { entity_category: c.category } : {}),
    ...(c.icon ? { icon: c.icon } : {}),
    ...(c.enabledByDefault === false ? { enabled_by_default: false } : {}),
  };
}

function reads(r: Reads): Record<string, unknown> {
  return {
    state_topic: r.topic,
    value_template: r.value,
    ...(r.attributes ? { json_attributes_topic: r.attributes.topic } : {}),
    ...(r.attributes?.template ? { json_attributes_template: r.attributes.template } : {}),
  };
}

function entity(component: HaComponent, c: Common, config: Record<string, unknown>): HaEntity {
  return { component, ...(c.part ? { part: c.part } : {}), name: c.name, config: common(c, config) };
}

export interface SensorSpec extends Common, Reads {
  readonly unit?: string;
  readonly deviceClass?: HaSensorClass;
  readonly stateClass?: HaStateClass;
  /** Digits HA shows after the point. */
  readonly precision?: number;
  /** The values an `enum` sensor may take. */
  readonly options?: readonly string[];
}

export function sensor(s: SensorSpec): HaEntity {
  return entity('sensor', s, {
    ...reads(s),
    ...(s.unit ? { unit_of_measurement: s.unit } : {}),
    ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
    ...(s.stateClass ? { state_class: s.stateClass } : {}),
    ...(s.precision !== undefined ? { suggested_display_precision: s.precision } : {}),
    ...(s.options ? { options: [...s.options] } : {}),
  });
}

export interface BinarySensorSpec extends Common, Reads {
  readonly deviceClass?: HaBinarySensorClass;
}

/** `value` renders ON, OFF or None (unknown). */
export function binarySensor(b: BinarySensorSpec): HaEntity {
  return entity('binary_sensor', b, {
    ...reads(b),
    payload_on: 'ON',
    payload_off: 'OFF',
    ...(b.deviceClass ? { device_class: b.deviceClass } : {}),
  });
}

export interface ButtonSpec extends Common {
  /** The command topic a press publishes to. */
  readonly command: string;
  /** What a press sends (default `{}`: the command without arguments). */
  readonly payload?: string;
  readonly deviceClass?: HaButtonClass;
}

export function button(b: ButtonSpec): HaEntity {
  return entity('button', b, {
    command_topic: b.command,
    payload_press: b.payload ?? '{}',
    ...(b.deviceClass ? { device_class: b.deviceClass } : {}),
  });
}

export interface EventSpec extends Common {
  /** The device's event topic, usually. */
  readonly topic: string;
  readonly types: readonly string[];
  /** Renders `{"event_type": …}` from an event, or nothing for events this entity does not show. */
  readonly value: string;
  readonly deviceClass?: HaEventClass;
}

export function event(e: EventSpec): HaEntity {
  return entity('event', e, {
    state_topic: e.topic,
    event_types: [...e.types],
    value_template: e.value,
    ...(e.deviceClass ? { device_class: e.deviceClass } : {}),
  });
}
