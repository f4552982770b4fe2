/**
 * What a device kind declares for Home Assistant. The discovery module adds
 * what every entity shares (unique_id, object_id, availability, device,
 * origin) and publishes the configs; a kind only says which entities it has
 * and how they map onto its state, command and event topics.
 */
export type HaComponent = 'light' | 'switch' | 'binary_sensor' | 'sensor' | 'button' | 'event' | 'number' | 'select';

export interface HaEntity {
  readonly component: HaComponent;
  /** Suffix of object/unique ids for kinds with several entities (`rewind`, `cts`); absent for the main one. */
  readonly part?: string;
  /** Entity name shown in HA; null makes it the device's main entity. */
  readonly name: string | null;
  /** Platform keys: state_topic, command_topic, value_template … (topics from HaTopics). */
  readonly config: Readonly<Record<string, unknown>>;
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
}
