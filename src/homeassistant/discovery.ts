/**
 * Home Assistant MQTT discovery configs, built from what each kind declares
 * (src/homeassistant/entities.ts) plus what every entity shares: unique_id,
 * object_id (and default_entity_id, its successor from HA 2025.10), the
 * availability list (node status and device availability, both required),
 * the device block (via_device: the node) and the origin block. The node
 * itself is a device too, with diagnostic sensors for uptime and memory.
 *
 * Pure: config in, `{topic, config}` out. publisher.ts puts them on the wire.
 */
import type { AnyKind } from '../devices/kind.js';
import { deviceCommandTopic, deviceTopic, nodeTopic, type TopicScheme } from '../agent/topics.js';
import type { HaComponent, HaEntity, HaTopics } from './entities.js';

const MANUFACTURER = 'dev2mqtt';

export interface DiscoverySettings {
  /** homeassistant.discoveryPrefix */
  readonly prefix: string;
  readonly topics: TopicScheme;
  readonly version: string;
  /** mqtt.qos: HA subscribes and sends commands with it. */
  readonly qos: 0 | 1 | 2;
}

export interface DiscoveryDevice {
  readonly id: string;
  readonly name: string;
  readonly sim: boolean;
  readonly options: unknown;
  readonly kind: AnyKind;
}

export interface DiscoveryMessage {
  /** `{prefix}/{component}/{objectId}/config` */
  readonly topic: string;
  readonly component: HaComponent;
  /** `{node}_{device}[_{part}]`, also the config topic's object id. */
  readonly objectId: string;
  /** The device id, or undefined for the node's own entities. */
  readonly device: string | undefined;
  readonly config: Record<string, unknown>;
}

/** The topics of one device, as kinds use them in their entity configs. */
export function haTopics(t: TopicScheme, device: string): HaTopics {
  return {
    state: deviceTopic(t, device, 'state'),
    event: deviceTopic(t, device, 'event'),
    availability: deviceTopic(t, device, 'availability'),
    command: (name: string) => deviceCommandTopic(t, device, name),
  };
}

export const nodeIdentifier = (t: TopicScheme): string => `dev2mqtt_${t.node}`;

const availabilityOf = (topic: string): Record<string, string> => ({
  topic,
  payload_available: 'online',
  payload_not_available: 'offline',
});

function origin(s: DiscoverySettings): Record<string, string> {
  // No support_url: the project has no public page of its own to point at yet.
  return { name: 'dev2mqtt', sw_version: s.version };
}

function nodeDevice(s: DiscoverySettings): Record<string, unknown> {
  return {
    identifiers: [nodeIdentifier(s.topics)],
    name: s.topics.node,
    model: 'dev2mqtt agent',
    manufacturer: MANUFACTURER,
    sw_version: s.version,
  };
}

function message(
  s: DiscoverySettings,
  component: HaComponent,
  objectId: string,
  device: string | undefined,
  config: Record<string, unknown>,
): DiscoveryMessage {
  return {
    topic: `${s.prefix}/${component}/${objectId}/config`,
    component,
    objectId,
    device,
    config: {
      ...config,
      unique_id: `dev2mqtt_${objectId}`,
      object_id: objectId,
      default_entity_id: `${component}.${objectId}`,
      qos: s.qos,
      origin: origin(s),
    },
  };
}

/** The node as a device: uptime and resident memory from `{base}/{node}/state`. */
export function nodeMessages(s: DiscoverySettings): DiscoveryMessage[] {
  const state = nodeTopic(s.topics, 'state');
  const shared = {
    state_topic: state,
    availability: [availabilityOf(nodeTopic(s.topics, 'status'))],
    availability_mode: 'all',
    device: nodeDevice(s),
    entity_category: 'diagnostic',
    state_class: 'measurement',
  };
  const node = s.topics.node;
  return [
    message(s, 'sensor', `${node}_agent_uptime`, undefined, {
      ...shared,
      name: 'Uptime',
      device_class: 'duration',
      unit_of_measurement: 's',
      value_template: '{{ value_json.uptimeS }}',
      icon: 'mdi:timer-outline',
    }),
    message(s, 'sensor', `${node}_agent_rss`, undefined, {
      ...shared,
      name: 'Memory',
      device_class: 'data_size',
      unit_of_measurement: 'B',
      value_template: '{{ value_json.rssBytes }}',
      icon: 'mdi:memory',
    }),
  ];
}

/** The configs of one device's entities, or [] when its kind declares none. */
export function deviceMessages(s: DiscoverySettings, d: DiscoveryDevice): DiscoveryMessage[] {
  if (!d.kind.homeassistant) return [];
  const topics = haTopics(s.topics, d.id);
  const entities: HaEntity[] = d.kind.homeassistant({ id: d.id, name: d.name, options: d.options, sim: d.sim, topics });
  const device = {
    identifiers: [`dev2mqtt_${s.topics.node}_${d.id}`],
    name: d.name,
    model: d.sim ? `${d.kind.kind} (simulated)` : d.kind.kind,
    manufacturer: MANUFACTURER,
    sw_version: s.version,
    via_device: nodeIdentifier(s.topics),
  };
  const availability = [availabilityOf(nodeTopic(s.topics, 'status')), availabilityOf(topics.availability)];
  return entities.map((e) => {
    const objectId = `${s.topics.node}_${d.id}${e.part ? `_${e.part}` : ''}`;
    return message(s, e.component, objectId, d.id, { ...e.config, name: e.name, availability, availability_mode: 'all', device });
  });
}

/** Every config for the node and its devices; duplicate object ids are an error a kind must fix. */
export function discoveryMessages(
  s: DiscoverySettings,
  devices: readonly DiscoveryDevice[],
  onError: (device: string, err: Error) => void,
): DiscoveryMessage[] {
  const out = nodeMessages(s);
  for (const d of devices) {
    try {
      out.push(...deviceMessages(s, d));
    } catch (e) {
      // One kind's faulty declaration must not keep the others out of Home Assistant.
      onError(d.id, e as Error);
    }
  }
  const seen = new Set<string>();
  return out.filter((m) => {
    if (seen.has(m.topic)) {
      onError(m.device ?? s.topics.node, new Error(`two entities share the discovery topic ${m.topic}; the later one is left out`));
      return false;
    }
    seen.add(m.topic);
    return true;
  });
}
