// Home Assistant discovery per Pi: how many retained config messages one
// agent leaves on the broker, and how many bytes, for the demo config
// (config/default.json, sim devices) and the example Pi (config/example.json;
// its devices are absent here, so no hardware facts) — in the device-based
// form (the default) and the per-entity one.
//
// `node bench/discovery.mjs --agent=/path/to/dist/launch.cjs` measures another
// build the same way (the figures of the first scheme: a checkout of main
// built with `npm run build`); a build without homeassistant.discovery is
// measured once, in its only form.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { printRows, row, within } from './lib.mjs';
import { connect, LAUNCHER, spawnAgent, startMosquitto, waitOnline } from './brokers.mjs';

/** No config message for this long after `online`: the agent has said everything. */
const QUIET_MS = 2000;

/** The configs as the measured build ships them (beside its dist/). */
const configs = (launcher) => {
  const root = path.resolve(path.dirname(launcher), '..');
  return [
    ['demo', path.join(root, 'config/default.json')],
    ['example Pi', path.join(root, 'config/example.json')],
  ];
};

/** The retained configs under a prefix: a marker published after subscribing arrives after all of them. */
async function retained(url, prefix) {
  const c = await connect(url);
  const seen = new Map();
  const done = new Promise((resolve) => {
    c.on('message', (topic, payload, packet) => {
      if (topic === `${prefix}/dev2mqtt-marker`) resolve();
      else if (packet.retain && payload.length) seen.set(topic, payload.length);
    });
  });
  try {
    await c.subscribeAsync(`${prefix}/#`, { qos: 1 });
    await c.publishAsync(`${prefix}/dev2mqtt-marker`, 'end', { qos: 1 });
    await within(done, 60_000, `the retained configs under ${prefix}/# (the marker after them)`);
    return seen;
  } finally {
    await c.endAsync(true);
  }
}

/** Starts one agent, waits until its discovery has gone quiet, and counts what stays retained. */
async function measure(broker, launcher, file, prefix, form) {
  const cfg = JSON.parse(readFileSync(file, 'utf8'));
  const watcher = await connect(broker.url);
  let last = 0;
  watcher.on('message', () => (last = performance.now()));
  await watcher.subscribeAsync(`${prefix}/#`, { qos: 1 });
  const agent = await spawnAgent(
    {
      node: { id: cfg.node.id },
      mqtt: { url: broker.url },
      log: { level: 'error' },
      homeassistant: { enabled: true, discoveryPrefix: prefix, ...(form ? { discovery: form } : {}) },
      devices: cfg.devices,
    },
    { launcher },
  );
  try {
    await waitOnline(broker.url, cfg.node.id, { proc: agent.proc });
    const online = performance.now();
    while (performance.now() - Math.max(last, online) < QUIET_MS) await new Promise((r) => setTimeout(r, 200));
    const configs = await retained(broker.url, prefix);
    const bytes = [...configs.values()].reduce((a, b) => a + b, 0);
    const topicBytes = [...configs.keys()].reduce((a, t) => a + Buffer.byteLength(t), 0);
    return { messages: configs.size, bytes, topicBytes };
  } finally {
    await agent.stop();
    await watcher.endAsync(true);
  }
}

/** Whether a build knows homeassistant.discovery (its schema says so in dist/config/schema.js). */
function knowsForms(launcher) {
  try {
    return readFileSync(launcher.replace(/launch\.cjs$/, 'config/schema.js'), 'utf8').includes("'device', 'entity'");
  } catch {
    return false;
  }
}

export async function runDiscoveryBench({ launcher = LAUNCHER, label } = {}) {
  const broker = await startMosquitto();
  const rows = [];
  const forms = knowsForms(launcher) ? ['device', 'entity'] : [undefined];
  const build = label ?? (launcher === LAUNCHER ? 'this build' : launcher);
  try {
    let n = 0;
    for (const [name, file] of configs(launcher)) {
      for (const form of forms) {
        const m = await measure(broker, launcher, file, `bench-ha-${n++}`, form);
        const what = `discovery/${name}${form ? ` (${form})` : ''}`;
        rows.push(row(what, `retained configs [${build}]`, m.messages, 'msgs'));
        rows.push(row(what, `payload bytes [${build}]`, m.bytes, 'B'));
        rows.push(row(what, `topic bytes [${build}]`, m.topicBytes, 'B'));
      }
    }
  } finally {
    await broker.stop();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const agent = process.argv.find((a) => a.startsWith('--agent='))?.slice('--agent='.length);
  const label = process.argv.find((a) => a.startsWith('--label='))?.slice('--label='.length);
  printRows(await runDiscoveryBench({ ...(agent ? { launcher: agent } : {}), ...(label ? { label } : {}) }), {
    title: 'Home Assistant discovery per Pi',
  });
}
