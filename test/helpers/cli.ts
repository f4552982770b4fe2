/** Runs the built `dev2mqtt` launcher (dist/, built by the global setup) as a user would. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deadline } from './deadline.js';

export const LAUNCHER = fileURLToPath(new URL('../../dist/launch.cjs', import.meta.url));

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [LAUNCHER, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    cwd: opts.cwd,
    timeout: deadline(60_000),
  });
}
