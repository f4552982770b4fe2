/** What run, check-config and exec share: the registry, the config, a logger. */
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type AgentConfig } from '../config/load.js';
import { builtinKinds } from '../devices/builtin.js';
import { KindRegistry } from '../devices/registry.js';
import { createLogger } from '../log.js';
import type { LogOutput } from '../log-output.js';
import type { CommandIo } from './io.js';

export interface Loaded {
  readonly config: AgentConfig;
  readonly registry: KindRegistry;
}

/** Loads and validates; on a bad config prints every problem and returns undefined. */
export async function loadOrReport(file: string | undefined, io: CommandIo): Promise<Loaded | undefined> {
  const registry = new KindRegistry(builtinKinds());
  try {
    return { config: await loadConfig({ ...(file ? { file } : {}), registry }), registry };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.err(`dev2mqtt: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'} in ${e.file || 'the configuration'}:\n`);
    for (const i of e.issues) io.err(`  ${i.path || '(file)'}: ${i.message}\n`);
    return undefined;
  }
}

/** `output`: where JSON lines go when not on a terminal (default: stdout, see log-output.ts). */
export function loggerFor(config: AgentConfig, io: CommandIo, level?: string, output?: LogOutput): Logger {
  return createLogger({ level: level ?? config.log.level, pretty: io.isTTY, ...(output ? { destination: output } : {}) });
}
