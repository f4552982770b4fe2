/**
 * The convict schema for every key of the contract's configuration. Each leaf
 * can be overridden by an environment variable named after its path:
 * `mqtt.url` → DEV2MQTT_MQTT_URL, `telemetry.intervalMs` → DEV2MQTT_TELEMETRY_INTERVALMS.
 * Device options are validated afterwards by each kind's own schema (load.ts).
 */
import os from 'node:os';
import type { Schema } from 'convict';

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** An ioctl request's name as the catalogue spells it (security.rawIoctl, the `ioctl` command). */
export const REQUEST_NAME_PATTERN = /^[A-Z0-9_]{1,64}$/;
/** A node id that would read as `{base}/group/…` must not exist. */
const RESERVED_NODE_IDS = new Set(['group']);

export interface DeviceConfig {
  id: string;
  kind: string;
  name?: string;
  sim?: boolean;
  options?: Record<string, unknown>;
}

export interface AgentConfigShape {
  node: { id: string; groups: string[]; stateDir: string; journalDir: string; journalRetryMaxMs: number };
  mqtt: {
    url: string;
    servers: string[];
    baseTopic: string;
    clientId: string;
    username: string;
    password: string;
    passwordFile: string;
    ca: string;
    cert: string;
    key: string;
    rejectUnauthorized: boolean;
    protocolVersion: number;
    keepaliveS: number;
    qos: number;
    sessionExpiryS: number;
    reconnectMinMs: number;
    reconnectMaxMs: number;
    connectTimeoutMs: number;
    ackTimeoutMs: number;
  };
  broker: { enabled: boolean; host: string; port: number; auth: { username: string; passwordFile: string } };
  telemetry: {
    intervalMs: number;
    stateThrottleMs: number;
    offlineBuffer: { maxMessages: number; maxBytes: number; spill: boolean; spillMaxBytes: number };
  };
  homeassistant: { enabled: boolean; discoveryPrefix: string; statusTopic: string; discovery: 'device' | 'entity' };
  devices: DeviceConfig[];
  plugins: string[];
  security: {
    maxPayloadBytes: number;
    rateLimitPerS: number;
    rateLimitBurst: number;
    rawIoctl: Record<string, string[]>;
    dedupeWindow: number;
  };
  log: { level: string };
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function hostId(): string {
  const h = os
    .hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
  return h && !RESERVED_NODE_IDS.has(h) ? h : 'dev2mqtt';
}

const topicLevel =
  (name: string) =>
  (v: unknown): void => {
    check(typeof v === 'string' && v.length > 0, `${name} must be a non-empty string`);
    const s = v as string;
    check(
      // eslint-disable-next-line no-control-regex -- MQTT forbids NUL in topic names (3.1.1 §4.7.3)
      !/[+#\u0000]/.test(s) && !s.startsWith('/') && !s.endsWith('/') && !s.startsWith('$'),
      `${name} must be a plain MQTT topic prefix (no +, #, leading $ or slashes at either end), got "${s}"`,
    );
  };

const stringList =
  (what: string, pattern?: RegExp) =>
  (v: unknown): void => {
    check(Array.isArray(v) && v.every((x) => typeof x === 'string'), `must be a list of ${what}`);
    if (pattern) for (const x of v as string[]) check(pattern.test(x), `"${x}" is not a valid ${what} (${pattern.source})`);
  };

const oneOf =
  <T>(values: readonly T[]) =>
  (v: unknown): void => {
    check(values.includes(v as T), `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  };

const isIntIn = (v: unknown, min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

const intIn =
  (min: number, max: number) =>
  (v: unknown): void => {
    check(isIntIn(v, min, max), `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  };

/** 0 switches the feature off; any other value must be at least `min` (a shorter one would misfire). */
const offOrIntIn =
  (min: number, max: number) =>
  (v: unknown): void => {
    check(v === 0 || isIntIn(v, min, max), `must be 0 (never) or an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  };

/** What mqtt.url and mqtt.servers accept besides "embedded". */
const BROKER_URL = /^(mqtts?|tcp|ssl|tls):\/\/[^/]+/;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function configSchema(): Schema<AgentConfigShape> {
  return {
    node: {
      id: {
        doc: 'node id used in topics; default: the host name',
        format: (v: unknown) => {
          check(typeof v === 'string' && ID_PATTERN.test(v), `must match ${ID_PATTERN.source}, got ${JSON.stringify(v)}`);
          check(!RESERVED_NODE_IDS.has(v as string), `"${String(v)}" is reserved`);
        },
        default: hostId(),
      },
      groups: { doc: 'groups this node answers on {base}/group/{group}/…', format: stringList('group id', ID_PATTERN), default: [] },
      stateDir: {
        doc: 'where sim media, the command journal and other state live; default $STATE_DIRECTORY, $XDG_STATE_HOME/dev2mqtt or ~/.local/state/dev2mqtt',
        format: String,
        default: '',
      },
      journalDir: {
        doc:
          'where the command journal lives (written on every command); default $RUNTIME_DIRECTORY (systemd RuntimeDirectory=, ' +
          'a tmpfs: no SD card writes per command, survives a crash and a restart but not a reboot), else node.stateDir. See docs/storage.md',
        format: String,
        default: '',
      },
      journalRetryMaxMs: {
        doc: 'while storage refuses the journal (full, read-only, failing), the longest wait between two attempts to write it again',
        format: intIn(1000, 3600000),
        default: 30000,
      },
    },
    mqtt: {
      url: {
        doc: '"embedded", or mqtt://host:port, mqtts://host:port',
        format: (v: unknown) => {
          check(typeof v === 'string', 'must be a string');
          check(
            v === 'embedded' || BROKER_URL.test(v as string),
            `must be "embedded" or an mqtt://, mqtts:// URL, got ${JSON.stringify(v)}`,
          );
        },
        default: 'embedded',
      },
      servers: {
        doc: 'broker URLs of a cluster (or a primary and its standbys), used instead of url: the agent starts at a random one and moves to the next on every failed attempt',
        format: (v: unknown) => {
          stringList('broker URL')(v);
          for (const u of v as string[]) check(BROKER_URL.test(u), `"${u}" is not an mqtt://, mqtts:// URL`);
          check(new Set(v as string[]).size === (v as string[]).length, 'lists a broker twice');
        },
        default: [],
      },
      baseTopic: { doc: 'first topic level', format: topicLevel('baseTopic'), default: 'dev2mqtt' },
      clientId: {
        doc: 'MQTT client id; default dev2mqtt_{node.id} (stable, so the broker keeps the session)',
        format: String,
        default: '',
      },
      username: { doc: 'broker user name', format: String, default: '' },
      password: { doc: 'broker password; prefer passwordFile or the env variable', format: String, default: '', sensitive: true },
      passwordFile: { doc: 'file holding the broker password', format: String, default: '' },
      ca: { doc: 'CA certificate file (PEM) for mqtts://', format: String, default: '' },
      cert: { doc: 'client certificate file (PEM) for mTLS', format: String, default: '' },
      key: { doc: 'client key file (PEM) for mTLS', format: String, default: '' },
      rejectUnauthorized: { doc: 'verify the broker certificate', format: Boolean, default: true },
      protocolVersion: { doc: '5 (MQTT 5), 4 (3.1.1) or 3 (3.1)', format: oneOf([3, 4, 5]), default: 5 },
      keepaliveS: { doc: 'keepalive in seconds', format: intIn(5, 3600), default: 30 },
      qos: { doc: 'QoS of subscriptions and of results, state and events', format: oneOf([0, 1, 2]), default: 1 },
      sessionExpiryS: {
        doc: 'MQTT 5 session expiry: how long the broker keeps commands for an absent agent',
        format: intIn(0, 4294967295),
        default: 7 * 24 * 3600,
      },
      reconnectMinMs: { doc: 'first reconnect delay (exponential backoff with random jitter)', format: intIn(10, 600000), default: 250 },
      reconnectMaxMs: { doc: 'reconnect delay cap; a fleet spreads over [cap/2, cap]', format: intIn(100, 3600000), default: 1000 },
      connectTimeoutMs: { doc: 'give up one connection attempt after this long', format: intIn(100, 600000), default: 10000 },
      ackTimeoutMs: {
        doc:
          'a broker that acknowledges nothing for this long while publishes wait is treated as gone: reconnect (and send them again); ' +
          '0: never. At least 1000: a shorter wait would drop a working connection under ordinary latency',
        format: offOrIntIn(1000, 3600000),
        default: 20000,
      },
    },
    broker: {
      enabled: { doc: 'run the embedded aedes broker (also implied by mqtt.url "embedded")', format: Boolean, default: false },
      host: { doc: 'address the embedded broker binds; a non-loopback address needs broker.auth', format: String, default: '127.0.0.1' },
      port: { doc: 'port of the embedded broker (0: any free port)', format: intIn(0, 65535), default: 1883 },
      auth: {
        username: { doc: 'clients of the embedded broker must log in with this user name', format: String, default: '' },
        passwordFile: { doc: "file holding that user's password", format: String, default: '' },
      },
    },
    telemetry: {
      intervalMs: { doc: 'republish node and device state this often', format: intIn(1000, 86400000), default: 60000 },
      stateThrottleMs: {
        doc: 'at most one state publish per device in this window (the last state always follows)',
        format: intIn(0, 60000),
        default: 100,
      },
      offlineBuffer: {
        maxMessages: {
          doc: 'events and state changes kept while disconnected, published on reconnect (oldest dropped past this); 0: none kept',
          format: intIn(0, 10000000),
          default: 10000,
        },
        maxBytes: {
          doc: 'the most the kept messages may take in memory, in UTF-8 bytes',
          format: intIn(0, 1024 * 1024 * 1024),
          default: 4 * 1024 * 1024,
        },
        spill: {
          doc: 'past the memory bounds, move the oldest to files in node.stateDir instead of dropping them (writes only while disconnected)',
          format: Boolean,
          default: false,
        },
        spillMaxBytes: { doc: 'the most the spilled files may take', format: intIn(0, 16 * 1024 * 1024 * 1024), default: 64 * 1024 * 1024 },
      },
    },
    homeassistant: {
      enabled: { doc: 'publish Home Assistant MQTT discovery configs', format: Boolean, default: false },
      discoveryPrefix: { doc: 'HA discovery prefix', format: topicLevel('discoveryPrefix'), default: 'homeassistant' },
      statusTopic: { doc: 'HA birth topic; "online" there republishes discovery', format: String, default: 'homeassistant/status' },
      discovery: {
        doc: 'device: one config per device (HA 2024.11+); entity: one config per entity',
        format: oneOf(['device', 'entity']),
        default: 'device',
      },
    },
    devices: {
      doc: 'device list: {id, kind, name?, sim?, options}',
      format: (v: unknown) => check(Array.isArray(v), 'must be an array of devices'),
      default: [],
    },
    plugins: { doc: 'module paths of extra device kinds', format: stringList('module path'), default: [] },
    security: {
      maxPayloadBytes: { doc: 'larger command payloads get too_large', format: intIn(64, 256 * 1024 * 1024), default: 65536 },
      rateLimitPerS: { doc: 'commands per second per device before rate_limited (0: no limit)', format: intIn(0, 1000000), default: 50 },
      rateLimitBurst: { doc: 'commands a device may take at once above the rate', format: intIn(1, 1000000), default: 200 },
      rawIoctl: {
        doc: 'raw ioctl passthrough allow-list: {deviceId: [request names]}; empty: off',
        format: (v: unknown) => {
          check(typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object {deviceId: [request names]}');
          for (const [dev, names] of Object.entries(v as Record<string, unknown>)) {
            check(ID_PATTERN.test(dev), `"${dev}" is not a device id`);
            check(
              Array.isArray(names) && names.every((n) => typeof n === 'string' && REQUEST_NAME_PATTERN.test(n)),
              `${dev} must list request names such as "MTIOCGET"`,
            );
          }
        },
        default: {},
      },
      dedupeWindow: {
        doc: 'recent command ids (and results) kept to answer QoS 1 redeliveries',
        format: intIn(0, 1000000),
        default: 10000,
      },
    },
    log: {
      level: { doc: 'pino log level', format: oneOf(LOG_LEVELS), default: 'info' },
    },
  };
}

/** Keys holding lists: from the environment they may be written `a,b` as well as JSON. */
export const LIST_KEYS = ['node.groups', 'plugins', 'mqtt.servers'] as const;

/**
 * convict parses an environment value for an object or array key as JSON;
 * lists also take the shell-friendly `a,b` form, turned into JSON here.
 */
export function normaliseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const key of LIST_KEYS) {
    const name = envName(key);
    const v = out[name]?.trim();
    if (v !== undefined && !v.startsWith('[')) out[name] = JSON.stringify(v === '' ? [] : v.split(',').map((x) => x.trim()));
  }
  return out;
}

/** DEV2MQTT_ + the key path, upper-cased, dots as underscores. */
export function envName(path: string): string {
  return `DEV2MQTT_${path.replace(/\./g, '_').toUpperCase()}`;
}

/** Gives every leaf of the schema its env variable name. */
export function withEnvNames(schema: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const v = value as Record<string, unknown>;
    out[key] = 'default' in v ? { ...v, env: envName(path) } : withEnvNames(v, path);
  }
  return out;
}
