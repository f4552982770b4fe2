// Footprint: RSS after start with the demo devices, and after 1,000,000
// commands; time from process spawn to the retained `online`, next to
// `node -e 0`. Targets: idle RSS <= 1.2 x a bare connected MQTT.js client
// (measured in the same run), growth over 1M commands <= 10% (measured after a
// warm-up, next to the raw growth from start and the relay's under the same load),
// spawn-to-online <= 400 ms.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost, flags, GaveUp, percentile, printRows, progressing, row, within } from './lib.mjs';
import { connect, ROOT, rssOf, spawnAgent, startMosquitto, stopProcess, tempDir } from './brokers.mjs';
import { startRelay } from './roundtrip.mjs';

const MiB = 1024 * 1024;
const settle = (ms) => new Promise((r) => setTimeout(r, ms));
/** How long RSS is left to settle before a reading; the quick run (CI) only prints, so it waits less. */
const QUIET_MS = flags.quick ? 1000 : 3000;

function demoDevices() {
  const demo = JSON.parse(readFileSync(`${ROOT}/config/default.json`, 'utf8'));
  return demo.devices;
}

async function nodeFloorMs() {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).on('exit', r));
    times.push(performance.now() - t0);
  }
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
}

/** Spawns an agent and times spawn → its `online` on the status topic. */
async function spawnToOnline(url, node, devices, spawnOptions = {}) {
  const watcher = await connect(url);
  try {
    const online = new Promise((resolve) => {
      watcher.on('message', (_t, p) => {
        if (p.toString() === 'online') resolve(performance.now());
      });
    });
    await watcher.subscribeAsync(`dev2mqtt/${node}/status`, { qos: 1 });
    const agent = await spawnAgent(
      {
        node: { id: node },
        mqtt: { url },
        log: { level: 'warn' },
        security: { rateLimitPerS: 0 },
        telemetry: { intervalMs: 3_600_000 },
        devices,
      },
      spawnOptions,
    );
    try {
      const at = await within(online, 120_000, `agent ${node} to come online (dev2mqtt/${node}/status on ${url})`, { proc: agent.proc });
      return { agent, ms: at - agent.started };
    } catch (e) {
      await agent.stop();
      throw e;
    }
  } finally {
    await watcher.endAsync(true);
  }
}

async function bareClientRss(url) {
  const script = `import('mqtt').then((m) => m.default.connectAsync(${JSON.stringify(url)})).then(() => process.stdout.write('up\\n'))`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await within(new Promise((r) => proc.stdout.once('data', r)), 30_000, `a bare MQTT.js client to connect to ${url}`, { proc });
    await settle(QUIET_MS);
    return rssOf(proc.pid);
  } finally {
    await stopProcess(proc, 'SIGKILL');
  }
}

/** n commands with at most `window` in flight, spread over the LED devices (`base`: the relay's too). */
async function windowed(url, node, leds, n, window = 500, base = 'dev2mqtt') {
  const client = await connect(url);
  let sent = 0;
  let got = 0;
  let finish;
  const done = new Promise((r) => {
    finish = r;
  });
  const send = () => {
    const i = sent++;
    client.publish(`${base}/${node}/${leds[i % leds.length]}/cmd/set`, i % 2 ? 'ON' : 'OFF', { qos: 1 });
  };
  client.on('message', () => {
    if (++got === n) finish();
    else if (sent < n) send();
  });
  try {
    await client.subscribeAsync(`${base}/${node}/+/result`, { qos: 1 });
    for (let i = 0; i < Math.min(window, n); i++) send();
    await progressing(done, () => got, 60_000, `${n} results on ${base}/${node}/+/result`);
  } finally {
    await client.endAsync(true);
  }
}

const WARM_UP = 20_000;

/** Spawn options that preload bench/heap-probe.cjs, and a reader of the live heap it reports. */
function heapProbe() {
  const out = path.join(tempDir('dev2mqtt-bench-heap-'), 'heap.json');
  return {
    spawnOptions: {
      nodeArgs: ['--expose-gc', '--require', path.join(ROOT, 'bench', 'heap-probe.cjs')],
      env: { DEV2MQTT_BENCH_HEAP_OUT: out },
    },
    /** Live heap bytes after a full GC. Read RSS before calling: the GC shrinks it. */
    async liveHeap(pid) {
      rmSync(out, { force: true });
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 1500 && !existsSync(out); i++) await settle(20);
      if (!existsSync(out)) throw new GaveUp(`gave up after 30 s waiting for agent ${pid}'s heap report in ${out}`);
      await settle(50);
      return JSON.parse(readFileSync(out, 'utf8')).heapUsed;
    },
  };
}

/** The bare relay under the same load: how much a Node MQTT process grows by itself. */
async function relayGrowth(url, n) {
  const relay = await startRelay(url, 'relayfp');
  await settle(QUIET_MS);
  const idle = rssOf(relay.pid);
  await windowed(url, 'x', ['led0'], n, 500, 'relayfp');
  await settle(QUIET_MS);
  const after = rssOf(relay.pid);
  await stopProcess(relay);
  return { idle, after };
}

export async function runFootprintBench() {
  const commands = flags.quick ? 20_000 : 1_000_000;
  const mosq = await startMosquitto();
  try {
    const floor = await nodeFloorMs();
    const starts = [];
    for (let i = 0; i < (flags.quick ? 2 : 5); i++) {
      const { agent, ms } = await spawnToOnline(mosq.url, `fp-start-${i}`, demoDevices());
      starts.push(ms);
      await agent.stop();
    }
    const bare = await bareClientRss(mosq.url);
    const probe = heapProbe();
    const { agent } = await spawnToOnline(mosq.url, 'fp', demoDevices(), probe.spawnOptions);
    await settle(QUIET_MS);
    const idle = rssOf(agent.proc.pid);
    const leds = ['led0'];
    // V8 and malloc grow to a working set under load once (the bare relay does too, below);
    // growth after that is what a leak would show.
    await windowed(mosq.url, 'fp', leds, WARM_UP);
    await settle(QUIET_MS);
    const warm = rssOf(agent.proc.pid);
    const warmHeap = await probe.liveHeap(agent.proc.pid);
    await windowed(mosq.url, 'fp', leds, commands);
    await settle(QUIET_MS);
    const after = rssOf(agent.proc.pid);
    const afterHeap = await probe.liveHeap(agent.proc.pid);
    await agent.stop();
    const relay = await relayGrowth(mosq.url, commands);
    return [
      row('footprint', 'node -e 0 (floor)', floor, 'ms'),
      row(
        'footprint',
        'spawn to retained online (median)',
        percentile(
          starts.sort((a, b) => a - b),
          50,
        ),
        'ms',
        atMost(400, ' ms'),
      ),
      row('footprint', 'bare connected MQTT.js client RSS', bare / MiB, 'MiB'),
      row('footprint', 'agent RSS after start (demo devices)', idle / MiB, 'MiB'),
      row('footprint', 'agent / bare client RSS', idle / bare, 'x', atMost(1.2, 'x')),
      row('footprint', `agent RSS after ${WARM_UP.toLocaleString('en')} warm-up commands`, warm / MiB, 'MiB'),
      row('footprint', `agent RSS after ${commands.toLocaleString('en')} more`, after / MiB, 'MiB'),
      row('footprint', 'RSS growth from start (working set forming)', (after / idle - 1) * 100, '%'),
      row('footprint', 'relay RSS growth from start, same load', (relay.after / relay.idle - 1) * 100, '%'),
      row(
        'footprint',
        `RSS growth over the ${commands.toLocaleString('en')} commands after warm-up`,
        (after / warm - 1) * 100,
        '%',
        atMost(10, '%'),
      ),
      row('footprint', 'live heap after a full GC, after warm-up', warmHeap / MiB, 'MiB'),
      row('footprint', `live heap after a full GC, after the ${commands.toLocaleString('en')}`, afterHeap / MiB, 'MiB'),
      row('footprint', 'live heap growth (what a leak grows)', (afterHeap / warmHeap - 1) * 100, '%'),
    ];
  } finally {
    await mosq.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runFootprintBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'footprint and start-up' });
}
