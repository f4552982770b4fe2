// Idle RSS of the agent, two ways: with the demo's devices (every kind, all
// sims) and with a real-device config (one LED on a fake sysfs tree, no sims),
// which is what a Pi with one LED runs. A kind's sim model is loaded only for
// a device that asks for `sim`, so the second figure shows what the agent
// costs without any of them. Median of a few spawns each, after RSS settles.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flags, percentile, printRows, row } from './lib.mjs';
import { ROOT, rssOf, spawnAgent, startMosquitto, stopProcess, tempDir, waitOnline } from './brokers.mjs';

const MiB = 1024 * 1024;
const settle = (ms) => new Promise((r) => setTimeout(r, ms));
const QUIET_MS = flags.quick ? 1000 : 3000;
const RUNS = flags.quick ? 1 : 3;

export function demoDevices() {
  return JSON.parse(readFileSync(`${ROOT}/config/default.json`, 'utf8')).devices;
}

/** One LED as the kernel shows it, in a temp dir (`dir`, to remove): what `sysfsRoot` points a real-device config at. */
export function realLedDevices(dir) {
  const sys = path.join(dir, 'sys');
  const led = path.join(sys, 'class', 'leds', 'ACT');
  mkdirSync(led, { recursive: true });
  writeFileSync(path.join(led, 'brightness'), '0\n');
  writeFileSync(path.join(led, 'max_brightness'), '255\n');
  writeFileSync(path.join(led, 'trigger'), '[none] timer heartbeat default-on mmc0\n');
  return [{ id: 'act', kind: 'led', name: 'ACT', options: { name: 'ACT', sysfsRoot: sys } }];
}

/** The agent's RSS once it is online and has been left alone for a while (median of `runs` spawns). */
export async function idleRss(url, node, devices, runs = RUNS) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const agent = await spawnAgent({
      node: { id: `${node}-${i}` },
      mqtt: { url },
      log: { level: 'warn' },
      telemetry: { intervalMs: 3_600_000 },
      devices,
    });
    try {
      await waitOnline(url, `${node}-${i}`, { proc: agent.proc });
      await settle(QUIET_MS);
      samples.push(rssOf(agent.proc.pid));
    } finally {
      await stopProcess(agent.proc);
    }
  }
  return percentile(
    samples.sort((a, b) => a - b),
    50,
  );
}

export async function runIdleRssBench() {
  const mosq = await startMosquitto();
  const dir = tempDir('dev2mqtt-bench-sys-');
  try {
    const demo = await idleRss(mosq.url, 'rss-demo', demoDevices());
    const real = await idleRss(mosq.url, 'rss-real', realLedDevices(dir));
    return [
      row('idle-rss', 'agent RSS, demo devices (every kind, sim)', demo / MiB, 'MiB'),
      row('idle-rss', 'agent RSS, one real LED on a fake sysfs tree, no sims', real / MiB, 'MiB'),
      row('idle-rss', 'real-device config / demo', real / demo, 'x'),
    ];
  } finally {
    await mosq.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runIdleRssBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'idle RSS' });
}
