// Fleet: N agents (a sim LED each) in a few worker processes, on one
// mosquitto or on a three-node nats-server cluster (every agent lists the three
// nodes and starts at a random one). Time from a group command to the last of
// N results; agents per MiB; then the outage: a mosquitto restart, or one
// cluster node killed (SIGKILL) with a group command published on a survivor
// while the agents that were on it are away. Time until all are online again,
// the busiest second of reconnects (jitter must spread them), and on the
// cluster the commands lost (goal 0) and run twice.
// Targets: N = 1,000 on this 2-core machine; all results within 2 s; no
// reconnect second above 3x the average; no command lost.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, flags, printRows, row } from './lib.mjs';
import { ROOT, startMosquitto } from './brokers.mjs';
import { connectOnce, NatsCluster } from './nats-cluster.mjs';

const MiB = 1024 * 1024;

/** One mosquitto: the outage is a restart, every agent reconnects to it. */
async function oneMosquitto() {
  const mosq = await startMosquitto({ extra: ['max_keepalive 120'] });
  return {
    bench: 'fleet',
    servers: [mosq.url],
    protocolVersion: 5,
    operatorUrl: () => mosq.url,
    async outage() {
      await mosq.restart('SIGKILL');
      return { gone: mosq.url };
    },
    stop: () => mosq.stop(),
  };
}

/** Three nats-server nodes: the outage is one node killed, its agents move to the others. */
async function natsCluster() {
  const cluster = await NatsCluster.start();
  try {
    await cluster.ready();
  } catch (e) {
    await cluster.close();
    throw e;
  }
  const [victim, operatorNode] = cluster.nodes;
  return {
    bench: 'fleet-cluster',
    servers: cluster.urls,
    // nats-server's MQTT listener speaks 3.1.1.
    protocolVersion: 4,
    operatorUrl: () => operatorNode.url,
    async outage() {
      // Every copy current first, as in a cluster that has been up a while.
      await cluster.waitReplicated();
      await cluster.kill(victim);
      return { gone: victim.url };
    },
    stop: () => cluster.close(),
  };
}

function waitFor(cond, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const check = setInterval(() => {
      if (cond() || Date.now() - t0 > timeoutMs) {
        clearInterval(check);
        resolve(cond());
      }
    }, 50);
  });
}

/** Publishes a group command on `url` and counts the distinct agents that answered it. */
async function groupCommand(url, id, n, timeoutMs, publishedWhile) {
  // A cluster node busy with the fleet's sessions may close or not answer a CONNECT: try again for a while.
  let client;
  const deadline = Date.now() + 180_000;
  while (!(client = await connectOnce(url, { connectTimeout: 30_000, protocolVersion: 4 }))) {
    if (Date.now() > deadline) throw new Error(`could not connect to ${url}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const answered = new Set();
  let last = 0;
  client.on('message', (topic, p) => {
    if (!p.toString().includes(`"id":"${id}"`)) return;
    answered.add(topic);
    last = performance.now();
  });
  // Right after a node loss the survivors refuse subscriptions until their streams have leaders again.
  for (;;) {
    const granted = await client.subscribeAsync('dev2mqtt/+/led0/result', { qos: 1 }).catch(() => []);
    if (granted.length && granted.every((g) => g.qos === 1)) break;
    if (Date.now() > deadline) throw new Error(`${url} refused the results subscription`);
    await new Promise((r) => setTimeout(r, 500));
  }
  await publishedWhile?.();
  const sent = performance.now();
  await client.publishAsync('dev2mqtt/group/fleet/led0/cmd/set', `{"id":"${id}","state":"ON"}`, { qos: 1 });
  await waitFor(() => answered.size >= n, timeoutMs);
  await client.endAsync(true);
  return { got: answered.size, ms: last - sent };
}

async function statsOf(procs) {
  const all = await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => {
          const on = (m) => {
            if (m.stats) {
              p.off('message', on);
              resolve(m.stats);
            }
          };
          p.on('message', on);
          p.send('stats');
        }),
    ),
  );
  return { ok: all.reduce((sum, st) => sum + st.ok, 0), duplicates: all.reduce((sum, st) => sum + st.duplicates, 0) };
}

async function runFleet(broker) {
  const n = flags.quick ? 100 : 1000;
  const workers = flags.quick ? 2 : 4;
  const bench = broker.bench;
  const procs = [];
  const onlineAt = new Map();
  /** The broker each agent is on, from its last `online`. */
  const on = new Map();
  let outageAt = Infinity;
  const reconnects = [];
  try {
    const started = [];
    for (let w = 0; w < workers; w++) {
      const count = Math.floor(n / workers) + (w < n % workers ? 1 : 0);
      const args = [JSON.stringify(broker.servers), `f${w}`, String(count), String(broker.protocolVersion)];
      const p = fork(path.join(ROOT, 'bench', 'fleet-worker.mjs'), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      procs.push(p);
      started.push(
        new Promise((resolve) => {
          p.on('message', (m) => {
            if (m.online) {
              onlineAt.set(m.online, m.t);
              on.set(m.online, m.server);
              if (m.t >= outageAt) reconnects.push(m.t);
            }
            if (m.started !== undefined) resolve(m);
          });
        }),
      );
    }
    const t0 = Date.now();
    const reports = await Promise.all(started);
    // start() returns before the connection is up: wait until every agent said online.
    await waitFor(() => onlineAt.size >= n, 180_000);
    const startS = (Date.now() - t0) / 1000;
    const rss = reports.reduce((sum, r) => sum + r.rss, 0);
    const spread = [...new Set(broker.servers)].map((u) => [...on.values()].filter((x) => x === u).length);

    // One group command, N results.
    const first = await groupCommand(broker.operatorUrl(), 'fleet-1', n, 60_000);
    const executed = (await statsOf(procs)).ok;

    // The outage: all (mosquitto) or a third (cluster) of the agents must come back.
    const before = await statsOf(procs);
    outageAt = Date.now();
    const { gone } = await broker.outage();
    const affected = [...on.entries()].filter(([, u]) => u === gone).length;
    const cluster = broker.servers.length > 1;
    // On the cluster a group command goes out while the agents of the lost node are away.
    const during = cluster ? await groupCommand(broker.operatorUrl(), 'fleet-2', n, 120_000) : undefined;
    const back = await waitFor(() => reconnects.length >= affected, 180_000);
    const lastBack = Math.max(...reconnects);
    const seconds = new Map();
    for (const t of reconnects) {
      const s = Math.floor((t - outageAt) / 1000);
      seconds.set(s, (seconds.get(s) ?? 0) + 1);
    }
    const spanS = Math.max(1, Math.ceil((lastBack - outageAt) / 1000));
    const avg = reconnects.length / spanS;
    const peak = Math.max(...seconds.values());
    const after = await statsOf(procs);
    const rows = [
      row(bench, 'agents', n, '', flags.quick ? undefined : atLeast(1000)),
      row(bench, 'worker processes', workers, ''),
      ...(cluster ? [row(bench, 'agents per node at start', spread.join(' / '), '')] : []),
      row(bench, 'time to start all and see them online', startS, 's'),
      row(bench, 'agents per MiB (worker RSS)', n / (rss / MiB), '/MiB'),
      row(bench, 'group commands run by the agents', executed, '', atLeast(n)),
      row(bench, 'group command results received', first.got, '', atLeast(n)),
      row(bench, 'group command to last of N results', first.ms, 'ms', atMost(2000, ' ms')),
      row(bench, cluster ? 'agents on the killed node' : 'agents cut off by the restart', affected, ''),
      row(
        bench,
        `all online again after ${cluster ? 'the node was killed' : 'broker restart'}`,
        back ? (lastBack - outageAt) / 1000 : NaN,
        's',
      ),
      row(bench, 'reconnects per second: average over the span', avg, '/s'),
      row(bench, 'reconnects in the busiest second', peak, ''),
      row(bench, 'busiest second / average', peak / avg, 'x', atMost(3, 'x')),
    ];
    if (during) {
      const ran = after.ok - before.ok;
      rows.push(
        row(bench, 'group command during the outage: agents that answered', during.got, '', atLeast(n)),
        row(bench, 'commands lost', n - during.got, '', atMost(0)),
        row(bench, 'commands run twice', Math.max(0, ran - n), '', atMost(0)),
        row(bench, 'duplicates answered from the journal', after.duplicates - before.duplicates, ''),
      );
    }
    return rows;
  } finally {
    for (const p of procs) p.send('stop');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)))));
    await broker.stop();
  }
}

export async function runFleetBench() {
  return runFleet(await oneMosquitto());
}

export async function runClusterFleetBench() {
  return runFleet(await natsCluster());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --cluster: the cluster alone; by default its figures are printed beside the single broker's.
  const single = process.argv.includes('--cluster') ? [] : await runFleetBench();
  if (single.length) printRows(single, { title: 'fleet on one mosquitto' });
  const cluster = await runClusterFleetBench();
  if (flags.json) console.log(JSON.stringify([...single, ...cluster], null, 2));
  else printRows(cluster, { title: 'fleet on a three-node nats-server cluster' });
}
