// Brokers and processes for the benchmarks: a mosquitto on a free loopback
// port, the agent and the relay baseline as child processes, and a measuring
// MQTT.js client with TCP_NODELAY (every hop gets it, so Nagle measures nothing).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { within } from './lib.mjs';
import { freePort, listening } from './ports.mjs';

export { freePort };

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const LAUNCHER = path.join(ROOT, 'dist', 'launch.cjs');

const made = new Set();
const children = new Set();
// A bench leaves nothing in the temp dir, and no broker or agent running: what it made goes when its
// process ends (run.mjs exits when done), also when it is killed while it waits.
process.once('exit', () => {
  for (const p of children) p.kill('SIGKILL');
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
// Killed (a CI step's timeout, Ctrl-C): exit, so the handlers above and the nodes' and workers' own run.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => process.exit(128 + os.constants.signals[signal]));

/** A child process (a broker, an agent, the relay) that goes when the bench's process does. */
export function track(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

export function tempDir(prefix = 'dev2mqtt-bench-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Until something listens on loopback `port`: `what` (by `proc`, which must not exit first) names it in a give-up. */
export async function waitPort(port, proc, what = `something to listen on 127.0.0.1:${port}`) {
  let waiting = true;
  const poll = (async () => {
    while (waiting && !(await listening(port))) await new Promise((r) => setTimeout(r, 10));
  })();
  try {
    await within(poll, 30_000, what, { proc });
  } finally {
    waiting = false;
  }
}

export async function startMosquitto({ noDelay = true, port, extra = [] } = {}) {
  const dir = tempDir('dev2mqtt-bench-mosq-');
  chmodSync(dir, 0o777);
  const p = port ?? (await freePort());
  const conf = path.join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${p} 127.0.0.1`,
    'allow_anonymous true',
    `set_tcp_nodelay ${noDelay}`,
    'max_queued_messages 1000000',
    'max_inflight_messages 1000',
    'log_dest none',
    `persistence_location ${dir}/`,
    ...extra,
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  let proc;
  const start = async () => {
    proc = track(spawn('mosquitto', ['-c', conf], { stdio: 'ignore' }));
    await waitPort(p, proc, `mosquitto to listen on 127.0.0.1:${p}`);
  };
  await start();
  return {
    port: p,
    url: `mqtt://127.0.0.1:${p}`,
    get pid() {
      return proc.pid;
    },
    stop(signal = 'SIGTERM') {
      return stopProcess(proc, signal);
    },
    async restart(signal = 'SIGKILL') {
      await this.stop(signal);
      await start();
    },
  };
}

/** The Node flags on the launcher's `#!` line: the benchmarks run the agent as the installed binary runs. */
export function launcherNodeFlags(launcher = LAUNCHER) {
  const first = readFileSync(launcher, 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!.*?\bnode\b(.*)$/.exec(first)?.[1] ?? '').split(' ').filter(Boolean);
}

/** Spawns `dev2mqtt run` with a config object (started: when, for spawn-to-online times); `launcher`: another build's. */
export async function spawnAgent(config, { env = {}, stdio = 'ignore', nodeArgs = [], launcher = LAUNCHER } = {}) {
  const dir = tempDir('dev2mqtt-bench-agent-');
  const file = path.join(dir, 'config.json');
  const cfg = { ...config, node: { stateDir: path.join(dir, 'state'), ...config.node } };
  writeFileSync(file, JSON.stringify(cfg));
  const started = performance.now();
  const proc = track(
    spawn(process.execPath, [...launcherNodeFlags(launcher), ...nodeArgs, launcher, 'run', '-c', file], {
      stdio,
      env: { ...process.env, ...env },
    }),
  );
  return { proc, file, started, stop: () => stopProcess(proc) };
}

/** Stops a child process: `signal`, then SIGKILL if it is still there after 15 s (cleanup must not hang a bench either). */
export function stopProcess(proc, signal = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      r();
    });
    proc.kill(signal);
  });
}

export async function connect(url, opts = {}) {
  const client = mqtt.connect(url, { reconnectPeriod: 200, connectTimeout: 10_000, ...opts });
  try {
    await within(
      new Promise((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
      }),
      30_000,
      `an MQTT connection to ${url}`,
    );
  } catch (e) {
    client.end(true);
    throw e;
  }
  client.stream.setNoDelay?.(true);
  return client;
}

/** Waits for a retained/live `online` on a node's status topic; `proc`: the agent's process, which must not exit first. */
export async function waitOnline(url, node, { base = 'dev2mqtt', timeoutMs = 120_000, proc } = {}) {
  const c = await connect(url);
  const topic = `${base}/${node}/status`;
  try {
    const online = new Promise((resolve) => {
      c.on('message', (_topic, payload) => {
        if (payload.toString() === 'online') resolve();
      });
    });
    c.subscribe(topic, { qos: 1 });
    await within(online, timeoutMs, `agent ${node} to come online (${topic} on ${url})`, { proc });
  } finally {
    await c.endAsync(true);
  }
}

/** RSS of a process from /proc, in bytes. */
export function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}
