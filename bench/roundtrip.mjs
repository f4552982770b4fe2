// Command round trip: a client publishes a command, the agent runs it on a sim
// LED (a real file write) and the client receives the result — sequentially,
// p50/p99/max — next to the relay baseline through the same broker.
// Targets: agent/relay <= 1.3 at p50 and <= 1.5 at p99, on both brokers.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost, flags, percentile, printRows, row, within } from './lib.mjs';
import { connect, freePort, ROOT, spawnAgent, startMosquitto, stopProcess, track, waitOnline, waitPort } from './brokers.mjs';

const NODE = 'bench';

/** Publishes `n` commands one after the other; returns each round trip in ms. */
export async function sequentialRoundTrips(url, cmdTopic, resultTopic, n, payloadOf) {
  const client = await connect(url);
  const waiting = new Map();
  client.on('message', (_t, payload) => {
    const text = payload.toString();
    const at = text.indexOf('"id":"');
    const id = text.slice(at + 6, text.indexOf('"', at + 6));
    waiting.get(id)?.();
  });
  try {
    await client.subscribeAsync(resultTopic, { qos: 1 });
    const times = [];
    for (let i = 0; i < n; i++) {
      const id = `rt${i}`;
      const done = new Promise((resolve) => waiting.set(id, resolve));
      const t0 = performance.now();
      client.publish(cmdTopic, JSON.stringify({ id, ...payloadOf(i) }), { qos: 1 });
      await within(done, 60_000, `the result of command ${id} on ${resultTopic}`);
      times.push(performance.now() - t0);
      waiting.delete(id);
    }
    return times;
  } finally {
    await client.endAsync(true);
  }
}

export function stats(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

export async function startRelay(url, base = 'relay') {
  const proc = track(fork(path.join(ROOT, 'bench', 'relay.mjs'), [url, base], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  try {
    await within(new Promise((resolve) => proc.once('message', resolve)), 30_000, `the relay to subscribe on ${url}`, { proc });
  } catch (e) {
    await stopProcess(proc);
    throw e;
  }
  return proc;
}

export function agentConfig(url, brokerPort, devices) {
  return {
    node: { id: NODE },
    mqtt: url === 'embedded' ? { url: 'embedded' } : { url },
    ...(url === 'embedded' ? { broker: { port: brokerPort } } : {}),
    telemetry: { intervalMs: 3_600_000 },
    security: { rateLimitPerS: 0 },
    log: { level: 'warn' },
    devices,
  };
}

const ledDevice = (id) => ({ id, kind: 'led', sim: true, options: { name: id } });

/** Starts the broker under test and an agent on it; `url` is where clients connect. */
export async function withAgent(brokerKind, devices, fn) {
  let mosq;
  let url;
  let agentUrl;
  let port;
  if (brokerKind.startsWith('mosquitto')) {
    mosq = await startMosquitto({ noDelay: brokerKind !== 'mosquitto-nagle' });
    url = agentUrl = mosq.url;
  } else {
    port = await freePort();
    agentUrl = 'embedded';
    url = `mqtt://127.0.0.1:${port}`;
  }
  const agent = await spawnAgent(agentConfig(agentUrl, port, devices));
  try {
    if (port) await waitPort(port, agent.proc, `the agent's embedded broker to listen on 127.0.0.1:${port}`);
    await waitOnline(url, NODE, { proc: agent.proc });
    return await fn(url, agent);
  } finally {
    await agent.stop();
    await mosq?.stop();
  }
}

export async function runRoundtripBench() {
  const n = flags.quick ? 1000 : 5000;
  const warm = flags.quick ? 200 : 500;
  const rows = [];
  for (const brokerKind of ['embedded', 'mosquitto']) {
    await withAgent(brokerKind, [ledDevice('led0')], async (url) => {
      const relay = await startRelay(url);
      const on = (i) => ({ state: i % 2 ? 'ON' : 'OFF' });
      const measureRelay = () => sequentialRoundTrips(url, `relay/${NODE}/led0/cmd/set`, `relay/${NODE}/led0/result`, n, on);
      const measureAgent = () => sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, n, on);
      await sequentialRoundTrips(url, `relay/${NODE}/led0/cmd/set`, `relay/${NODE}/led0/result`, warm, on);
      await sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, warm, on);
      // Alternate halves so drift on a shared machine hits both sides alike.
      const relayTimes = [...(await measureRelay()), ...(await measureRelay())];
      const agentTimes = [...(await measureAgent()), ...(await measureAgent())];
      await stopProcess(relay);
      const r = stats(relayTimes);
      const a = stats(agentTimes);
      const b = `roundtrip/${brokerKind}`;
      rows.push(
        row(b, 'relay p50', r.p50 * 1000, 'µs'),
        row(b, 'relay p99', r.p99 * 1000, 'µs'),
        row(b, 'relay max', r.max * 1000, 'µs'),
        row(b, 'agent p50', a.p50 * 1000, 'µs'),
        row(b, 'agent p99', a.p99 * 1000, 'µs'),
        row(b, 'agent max', a.max * 1000, 'µs'),
        row(b, 'agent/relay p50', a.p50 / r.p50, 'x', atMost(1.3, 'x')),
        row(b, 'agent/relay p99', a.p99 / r.p99, 'x', atMost(1.5, 'x')),
      );
    });
  }
  // What users see when mosquitto is left with Nagle's algorithm on (no set_tcp_nodelay).
  await withAgent('mosquitto-nagle', [ledDevice('led0')], async (url) => {
    const on = (i) => ({ state: i % 2 ? 'ON' : 'OFF' });
    const t = stats(
      await sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, flags.quick ? 50 : 200, on),
    );
    rows.push(row('roundtrip/mosquitto without set_tcp_nodelay', 'agent p50', t.p50 * 1000, 'µs'));
  });
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runRoundtripBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'command round trip (sim LED) vs relay' });
}
