/**
 * The real `dev2mqtt run` in a child process, as a service manager starts it:
 * a config file written here, stdout/stderr captured, and a handle to kill it
 * (SIGKILL is a crash: no shutdown code runs, the broker publishes the LWT).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../../helpers/agent.js';
import { LAUNCHER } from '../../helpers/cli.js';

/** What the crash policy (src/cli/crash-policy.ts) logs: a fault suite asserts it never appears. */
export const CRASH_POLICY_LINE = /"origin":"(uncaughtException|unhandledRejection)"/;

export interface ChildAgent {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Writes `config` to a file in `dir` (a fresh temp dir by default) and returns its path. */
export function writeConfig(config: Record<string, unknown>, dir = tempDir('dev2mqtt-child-')): string {
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** `stdout`: a file descriptor to hand the agent as its stdout (a log file, as `>> file` does); then output() is stderr only. */
export function spawnAgent(configFile: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, stdout?: number): ChildAgent {
  const proc = spawn(process.execPath, [LAUNCHER, 'run', '-c', configFile, ...extraArgs], {
    stdio: ['ignore', stdout ?? 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    exited,
    output: () => out,
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
