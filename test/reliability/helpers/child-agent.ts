/**
 * The real `dev2mqtt run` in a child process, as a service manager starts it:
 * a config file written here, stdout/stderr captured, and a handle to kill it
 * (SIGKILL is a crash: no shutdown code runs, the broker publishes the LWT).
 * childAgentSuite() gives a suite the mosquitto and client such agents meet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { tempDir } from '../../helpers/agent.js';
import { LAUNCHER } from '../../helpers/cli.js';
import { Mosquitto } from '../../helpers/mosquitto.js';
import { TestClient } from '../../helpers/mqtt-client.js';

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

export interface ChildAgentSuite {
  readonly broker: Mosquitto;
  /** Connected to the broker; subscribes to what each test watches. */
  readonly client: TestClient;
  /** spawnAgent(), with the child killed (SIGKILL) when the suite ends, however its tests ended. */
  spawn(configFile: string, extraArgs?: string[], env?: NodeJS.ProcessEnv): ChildAgent;
}

/**
 * Called in a describe block: a real mosquitto and a client on it for the suite's tests, then every agent the
 * suite spawned killed, the client ended and the broker stopped, in that order (agents first, so none is left
 * reconnecting to a broker that is gone).
 */
export function childAgentSuite(): ChildAgentSuite {
  let broker: Mosquitto | undefined;
  let client: TestClient | undefined;
  const children: ChildAgent[] = [];
  beforeAll(async () => {
    broker = await Mosquitto.start();
    client = await TestClient.connect(broker.url);
  });
  afterAll(async () => {
    for (const c of children) await c.kill('SIGKILL');
    await client?.end();
    await broker?.stop();
  });
  const started = <T>(part: T | undefined, what: string): T => {
    if (part === undefined) throw new Error(`${what} starts in the suite's beforeAll: use it inside a test`);
    return part;
  };
  return {
    get broker() {
      return started(broker, 'the broker');
    },
    get client() {
      return started(client, 'the client');
    },
    spawn(configFile, extraArgs, env) {
      const child = spawnAgent(configFile, extraArgs, env);
      children.push(child);
      return child;
    },
  };
}
