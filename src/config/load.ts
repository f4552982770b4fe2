/**
 * Finds, parses and validates the configuration: the file (--config, else
 * DEV2MQTT_CONFIG, else config/default.json), then DEV2MQTT_* environment
 * overrides, then each device's options against its kind's schema. Every
 * problem is collected with its key path; nothing starts on a bad config.
 */
import convict from 'convict';
import { accessSync, constants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawIoctlProblems } from '../agent/raw-ioctl.js';
import type { AnyKind } from '../devices/kind.js';
import { hostArch } from '../kernel/arch.js';
import { KindRegistry } from '../devices/registry.js';
import type { Issue } from '../schema/schema.js';
import { configSchema, ID_PATTERN, normaliseEnv, withEnvNames, type AgentConfigShape, type DeviceConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = fileURLToPath(new URL('../../config/default.json', import.meta.url));

export interface ResolvedDevice {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly sim: boolean;
  /** Parsed by the kind's schema, defaults filled in. */
  readonly options: unknown;
}

export interface AgentConfig extends Omit<AgentConfigShape, 'devices'> {
  readonly devices: readonly ResolvedDevice[];
  /** The file it came from ('' when built in code), for relative paths and messages. */
  readonly file: string;
  readonly warnings: readonly string[];
}

/** The brokers the agent connects to: mqtt.servers when it lists any, else mqtt.url ("embedded" included). */
export function brokerUrls(mqtt: { readonly url: string; readonly servers: readonly string[] }): readonly string[] {
  return mqtt.servers.length ? mqtt.servers : [mqtt.url];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: readonly Issue[],
  ) {
    super(`invalid configuration${file ? ` in ${file}` : ''}:\n${issues.map((i) => `  ${i.path || '(file)'}: ${i.message}`).join('\n')}`);
  }
}

export interface LoadOptions {
  /** --config; else env.DEV2MQTT_CONFIG; else config/default.json. */
  readonly file?: string;
  /** A config object instead of a file (tests, the fleet benchmark). */
  readonly object?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Kinds to validate devices against (builtin + plugins). Plugins listed in the config are loaded into it. */
  readonly registry: KindRegistry;
}

export function configFilePath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit ?? env.DEV2MQTT_CONFIG ?? DEFAULT_CONFIG_FILE);
}

function readJson(file: string): { value?: Record<string, unknown>; issue?: Issue } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { issue: { path: '', message: `cannot read ${file}: ${(e as Error).message}` } };
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { issue: { path: '', message: 'the file must hold a JSON object' } };
    return { value: value as Record<string, unknown> };
  } catch (e) {
    return { issue: { path: '', message: `not valid JSON: ${(e as Error).message}` } };
  }
}

/** convict reports "path: message" lines, or "configuration param 'x' not declared in the schema". */
function convictIssues(message: string): Issue[] {
  return message
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
      if (undeclared) return { path: undeclared[1] ?? '', message: 'is not a known key' };
      const m = /^([\w.]+): (.*)$/.exec(line);
      return m ? { path: m[1] ?? '', message: (m[2] ?? '').replace(/: value was .*$/, '') } : { path: '', message: line };
    });
}

/** systemd passes `StateDirectory=` and `RuntimeDirectory=` as colon-separated lists; the first is ours. */
const firstPathOf = (list: string | undefined): string => list?.split(':')[0] ?? '';

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (env.STATE_DIRECTORY) return firstPathOf(env.STATE_DIRECTORY);
  const xdg = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(xdg, 'dev2mqtt');
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

function checkReadable(file: string, at: string, issues: Issue[]): void {
  if (!file) return;
  try {
    accessSync(file, constants.R_OK);
  } catch {
    issues.push({ path: at, message: `cannot read ${file}` });
  }
}

function resolveDevices(raw: unknown[], registry: KindRegistry, issues: Issue[], warnings: string[]): ResolvedDevice[] {
  const seen = new Set<string>();
  const out: ResolvedDevice[] = [];
  raw.forEach((entry, i) => {
    const at = `devices[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      issues.push({ path: at, message: 'must be an object {id, kind, name?, sim?, options}' });
      return;
    }
    const d = entry as Partial<DeviceConfig> & Record<string, unknown>;
    for (const key of Object.keys(d)) {
      if (!['id', 'kind', 'name', 'sim', 'options'].includes(key))
        issues.push({ path: `${at}.${key}`, message: 'is not a known key (id, kind, name, sim, options)' });
    }
    const id = typeof d.id === 'string' ? d.id : '';
    if (!ID_PATTERN.test(id)) issues.push({ path: `${at}.id`, message: `must match ${ID_PATTERN.source}, got ${JSON.stringify(d.id)}` });
    else if (seen.has(id)) issues.push({ path: `${at}.id`, message: `"${id}" is used by another device` });
    seen.add(id);
    if (d.name !== undefined && typeof d.name !== 'string') issues.push({ path: `${at}.name`, message: 'must be a string' });
    if (d.sim !== undefined && typeof d.sim !== 'boolean') issues.push({ path: `${at}.sim`, message: 'must be true or false' });
    const kind: AnyKind | undefined = typeof d.kind === 'string' ? registry.get(d.kind) : undefined;
    if (!kind) {
      issues.push({
        path: `${at}.kind`,
        message: `unknown kind ${JSON.stringify(d.kind)} (known: ${registry.names().join(', ') || 'none'})`,
      });
      return;
    }
    const sim = d.sim === true;
    const parsed = kind.options(sim).parse(d.options ?? {}, `${at}.options`);
    if (!parsed.ok) {
      issues.push(...parsed.issues);
      return;
    }
    for (const w of kind.warnings?.(parsed.value, sim) ?? []) warnings.push(`${at} (${id}): ${w}`);
    out.push({ id, kind: kind.kind, name: typeof d.name === 'string' && d.name ? d.name : id, sim, options: parsed.value });
  });
  return out;
}

export async function loadConfig(opts: LoadOptions): Promise<AgentConfig> {
  const env = opts.env ?? process.env;
  const file = opts.object ? '' : configFilePath(opts.file, env);
  const baseDir = file ? path.dirname(file) : process.cwd();
  let raw: Record<string, unknown> = opts.object ?? {};
  if (!opts.object) {
    const r = readJson(file);
    if (r.issue) throw new ConfigError(file, [r.issue]);
    raw = r.value ?? {};
  }

  const issues: Issue[] = [];
  const warnings: string[] = [];
  let conf: convict.Config<AgentConfigShape>;
  try {
    // convict reads the environment here, so a malformed DEV2MQTT_* value surfaces here.
    conf = convict(withEnvNames(configSchema() as unknown as Record<string, unknown>) as unknown as convict.Schema<AgentConfigShape>, {
      env: normaliseEnv(env),
      args: [],
    });
  } catch (e) {
    throw new ConfigError(file, [{ path: '(environment)', message: (e as Error).message }]);
  }
  try {
    conf.load(raw);
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    issues.push(...convictIssues((e as Error).message));
  }
  const c = conf.getProperties();

  const rel = (p: string): string => (p ? path.resolve(baseDir, p) : p);
  c.node.stateDir = rel(c.node.stateDir) || defaultStateDir(env);
  c.node.journalDir = rel(c.node.journalDir) || firstPathOf(env.RUNTIME_DIRECTORY) || c.node.stateDir;
  c.mqtt.passwordFile = rel(c.mqtt.passwordFile);
  c.mqtt.ca = rel(c.mqtt.ca);
  c.mqtt.cert = rel(c.mqtt.cert);
  c.mqtt.key = rel(c.mqtt.key);
  c.broker.auth.passwordFile = rel(c.broker.auth.passwordFile);
  if (!c.mqtt.clientId) c.mqtt.clientId = `dev2mqtt_${c.node.id}`;

  checkReadable(c.mqtt.passwordFile, 'mqtt.passwordFile', issues);
  checkReadable(c.mqtt.ca, 'mqtt.ca', issues);
  checkReadable(c.mqtt.cert, 'mqtt.cert', issues);
  checkReadable(c.mqtt.key, 'mqtt.key', issues);
  checkReadable(c.broker.auth.passwordFile, 'broker.auth.passwordFile', issues);
  if (Boolean(c.mqtt.cert) !== Boolean(c.mqtt.key))
    issues.push({ path: c.mqtt.cert ? 'mqtt.key' : 'mqtt.cert', message: 'mTLS needs both cert and key' });
  // A cluster is mqtt.servers; a url beside it must be one of them (or the default), or which one wins is a guess.
  if (c.mqtt.servers.length && c.mqtt.url !== 'embedded' && !c.mqtt.servers.includes(c.mqtt.url))
    issues.push({ path: 'mqtt.url', message: `${c.mqtt.url} is not in mqtt.servers: list every broker there and leave url out` });
  const embedded = (c.mqtt.url === 'embedded' && !c.mqtt.servers.length) || c.broker.enabled;
  if (embedded && !isLoopback(c.broker.host) && !(c.broker.auth.username && c.broker.auth.passwordFile)) {
    issues.push({
      path: 'broker.host',
      message: `the embedded broker binds ${c.broker.host}, which is not loopback: set broker.auth.username and broker.auth.passwordFile first`,
    });
  }
  if (c.mqtt.reconnectMaxMs < c.mqtt.reconnectMinMs)
    issues.push({ path: 'mqtt.reconnectMaxMs', message: 'must be >= mqtt.reconnectMinMs' });

  try {
    await opts.registry.loadPlugins(c.plugins, baseDir);
  } catch (e) {
    issues.push({ path: 'plugins', message: (e as Error).message });
  }
  const devices = Array.isArray(c.devices) ? resolveDevices(c.devices, opts.registry, issues, warnings) : [];
  if (c.security.rawIoctl && typeof c.security.rawIoctl === 'object') {
    issues.push(...rawIoctlProblems(c.security.rawIoctl, new Set(devices.map((d) => d.id)), hostArch()));
  }

  if (issues.length) throw new ConfigError(file, issues);
  return { ...c, devices, file, warnings };
}
