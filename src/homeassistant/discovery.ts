/**
 * Home Assistant MQTT discovery configs, built from what each kind declares
 * (entities.ts) plus what every entity shares: unique_id and
 * default_entity_id (ids.ts), the availability list (node status and device
 * availability, both required), the device block (via the node, with what
 * the hardware told) and the origin block. The node itself is a device too
 * (node-entities.ts).
 *
 * Two forms (homeassistant.discovery):
 * - `device` (the default; Home Assistant 2024.11+): one retained config per
 *   device at {prefix}/device/{node}/{device}/config, with `dev`, `o`, the
 *   availability, state topic and qos its entities share at the top and each
 *   entity under `cmps`;
 * - `entity`: one config per entity at {prefix}/{component}/{node}/{device}[_{part}]/config.
 *
 * Pure: devices in, `{topic, config}` out. publisher.ts puts them on the wire.
 */
import type { AnyKind } from '../devices/kind.js';
import { deviceCommandTopic, deviceTopic, nodeTopic, type TopicScheme } from '../agent/topics.js';
import { declarationOf, type HaComponent, type HaEntity, type HaHardware, type HaTopics } from './entities.js';
import {
  componentKey,
  defaultEntityId,
  deviceConfigTopic,
  deviceIdentifier,
  entityConfigTopic,
  legacyConfigTopic,
  nodeIdentifier,
  PART_PATTERN,
  uniqueId,
} from './ids.js';
import { nodeEntities } from './node-entities.js';

export type DiscoveryForm = 'device' | 'entity';

export interface DiscoverySettings {
  /** homeassistant.discoveryPrefix */
  readonly prefix: string;
  readonly topics: TopicScheme;
  readonly version: string;
  /** mqtt.qos: HA subscribes and sends commands with it. */
  readonly qos: 0 | 1 | 2;
  /** homeassistant.discovery */
  readonly form: DiscoveryForm;
  /** What the machine told about itself (node-hardware.ts). */
  readonly node: HaHardware;
}

export interface DiscoveryDevice {
  readonly id: string;
  readonly name: string;
  readonly sim: boolean;
  readonly options: unknown;
  readonly kind: AnyKind;
  /** Its state as published, or undefined before it has one. */
  readonly state: Readonly<Record<string, unknown>> | undefined;
}

export interface DiscoveryMessage {
  readonly topic: string;
  /** The device id, or undefined for the node's own entities. */
  readonly device: string | undefined;
  /** The entities in this config: key (in `cmps`) → platform. */
  readonly components: Readonly<Record<string, HaComponent>>;
  readonly config: Record<string, unknown>;
}

/** Keeps what a device's hardware once told (a modem unplugged still has its model). */
export type HardwareMemo = Map<string, HaHardware>;

/** The topics of one device, as kinds use them in their entity configs. */
export function haTopics(t: TopicScheme, device: string): HaTopics {
  return {
    state: deviceTopic(t, device, 'state'),
    event: deviceTopic(t, device, 'event'),
    availability: deviceTopic(t, device, 'availability'),
    command: (name: string) => deviceCommandTopic(t, device, name),
  };
}

/** One HA device: the node, or one of its devices. */
interface Unit {
  readonly device: string | undefined;
  readonly block: Record<string, unknown>;
  readonly availability: ReadonlyArray<Record<string, string>>;
  readonly stateTopic: string;
  readonly entities: readonly HaEntity[];
}

const availabilityOf = (topic: string): Record<string, string> => ({
  topic,
  payload_available: 'online',
  payload_not_available: 'offline',
});

function origin(s: DiscoverySettings): Record<string, string> {
  // No support_url: the project has no public page of its own to point at yet.
  return { name: 'dev2mqtt', sw_version: s.version };
}

function hardwareKeys(h: HaHardware): Record<string, string> {
  return {
    ...(h.manufacturer ? { manufacturer: h.manufacturer } : {}),
    ...(h.model ? { model: h.model } : {}),
    ...(h.hwVersion ? { hw_version: h.hwVersion } : {}),
    ...(h.serialNumber ? { serial_number: h.serialNumber } : {}),
  };
}

function nodeUnit(s: DiscoverySettings): Unit {
  const t = s.topics;
  return {
    device: undefined,
    block: { identifiers: [nodeIdentifier(t.node)], name: t.node, model: 'dev2mqtt agent', ...hardwareKeys(s.node), sw_version: s.version },
    availability: [availabilityOf(nodeTopic(t, 'status'))],
    stateTopic: nodeTopic(t, 'state'),
    entities: nodeEntities(nodeTopic(t, 'state'), (name) => `${t.base}/${t.node}/cmd/${name}`),
  };
}

function definedOnly(h: HaHardware): HaHardware {
  return Object.fromEntries(Object.entries(h).filter(([, v]) => typeof v === 'string' && v !== ''));
}

/** A device's unit, or undefined when its kind declares no entities. */
function deviceUnit(s: DiscoverySettings, d: DiscoveryDevice, memo: HardwareMemo): Unit | undefined {
  if (!d.kind.homeassistant) return undefined;
  const t = s.topics;
  const topics = haTopics(t, d.id);
  const answer = declarationOf(d.kind.homeassistant({ id: d.id, name: d.name, options: d.options, sim: d.sim, topics, state: d.state }));
  const hardware = { ...memo.get(d.id), ...definedOnly(answer.hardware ?? {}) };
  memo.set(d.id, hardware);
  return {
    device: d.id,
    block: {
      identifiers: [deviceIdentifier(t.node, d.id)],
      name: d.name,
      model: d.sim ? `${d.kind.kind} (simulated)` : d.kind.kind,
      ...hardwareKeys(hardware),
      sw_version: s.version,
      via_device: nodeIdentifier(t.node),
    },
    availability: [availabilityOf(nodeTopic(t, 'status')), availabilityOf(topics.availability)],
    stateTopic: topics.state,
    entities: answer.entities,
  };
}

/** The entity's own keys plus its ids. */
function entityConfig(s: DiscoverySettings, u: Unit, e: HaEntity): Record<string, unknown> {
  const node = s.topics.node;
  return {
    ...e.config,
    name: e.name,
    unique_id: uniqueId(node, u.device, e.part),
    default_entity_id: defaultEntityId(e.component, node, u.device, e.part),
  };
}

function deviceMessage(s: DiscoverySettings, u: Unit): DiscoveryMessage {
  const cmps: Record<string, Record<string, unknown>> = {};
  const components: Record<string, HaComponent> = {};
  for (const e of u.entities) {
    const key = componentKey(e.component, e.part);
    const own = entityConfig(s, u, e);
    // Inherited from the top (HA's shared options) unless the entity reads another topic.
    if (own.state_topic === u.stateTopic) delete own.state_topic;
    cmps[key] = { p: e.component, ...own };
    components[key] = e.component;
  }
  return {
    topic: deviceConfigTopic(s.prefix, s.topics.node, u.device),
    device: u.device,
    components,
    config: {
      dev: u.block,
      o: origin(s),
      availability: u.availability,
      availability_mode: 'all',
      state_topic: u.stateTopic,
      qos: s.qos,
      cmps,
    },
  };
}

function entityMessages(s: DiscoverySettings, u: Unit): DiscoveryMessage[] {
  return u.entities.map((e) => ({
    topic: entityConfigTopic(s.prefix, e.component, s.topics.node, u.device, e.part),
    device: u.device,
    components: { [componentKey(e.component, e.part)]: e.component },
    config: {
      ...entityConfig(s, u, e),
      availability: u.availability,
      availability_mode: 'all',
      device: u.block,
      origin: origin(s),
      qos: s.qos,
    },
  }));
}

/** Leaves out entities HA could not tell apart (a bad or repeated part), saying which. */
function checked(u: Unit, onError: (device: string | undefined, err: Error) => void): Unit {
  const seen = new Set<string>();
  const entities = u.entities.filter((e) => {
    const key = componentKey(e.component, e.part);
    const problem =
      e.part !== undefined && !PART_PATTERN.test(e.part)
        ? `part '${e.part}' must match ${PART_PATTERN.source}`
        : seen.has(key)
          ? `two ${e.component} entities share the part '${e.part ?? ''}'; the later one is left out`
          : undefined;
    seen.add(key);
    if (problem) onError(u.device, new Error(problem));
    return !problem;
  });
  return { ...u, entities };
}

export interface DiscoveryPlan {
  readonly messages: DiscoveryMessage[];
  /** Where the first scheme put these entities' configs: cleared once on upgrade. */
  readonly legacyTopics: string[];
}

/** Every config for the node and its devices. A kind whose declaration throws is left out, the others stay. */
export function discoveryPlan(
  s: DiscoverySettings,
  devices: readonly DiscoveryDevice[],
  memo: HardwareMemo,
  onError: (device: string | undefined, err: Error) => void,
): DiscoveryPlan {
  const units: Unit[] = [checked(nodeUnit(s), onError)];
  for (const d of devices) {
    try {
      const u = deviceUnit(s, d, memo);
      if (u) units.push(checked(u, onError));
    } catch (e) {
      onError(d.id, e as Error);
    }
  }
  const messages = s.form === 'device' ? units.map((u) => deviceMessage(s, u)) : units.flatMap((u) => entityMessages(s, u));
  const seen = new Set<string>();
  const unique = messages.filter((m) => {
    // Per-entity topics join device and part with `_`, as HA's object ids must: `led` + `rx` meets a device `led_rx`.
    if (seen.has(m.topic)) onError(m.device, new Error(`two entities share the discovery topic ${m.topic}; the later one is left out`));
    const fresh = !seen.has(m.topic);
    seen.add(m.topic);
    return fresh;
  });
  const legacyTopics = units.flatMap((u) =>
    u.entities.map((e) => legacyConfigTopic(s.prefix, e.component, s.topics.node, u.device, e.part)),
  );
  return { messages: unique, legacyTopics };
}

/**
 * A device-based config that also removes the entities a previous config had
 * and this one has not: HA removes a component whose entry holds only its
 * platform (`{"p": "sensor"}`); left out, it would stay.
 */
export function withRemovals(m: DiscoveryMessage, previous: Readonly<Record<string, HaComponent>> | undefined): DiscoveryMessage {
  const cmps = m.config.cmps as Record<string, unknown> | undefined;
  if (!cmps || !previous) return m;
  const gone = Object.entries(previous).filter(([key]) => !(key in cmps));
  if (!gone.length) return m;
  return { ...m, config: { ...m.config, cmps: { ...cmps, ...Object.fromEntries(gone.map(([key, p]) => [key, { p }])) } } };
}
