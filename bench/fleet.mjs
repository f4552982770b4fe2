// Fleet: N agents (a sim LED each) in a few worker processes, on one
// mosquitto or on a three-node cluster — nats-server, or RabbitMQ with its
// MQTT plugin (every agent lists the three nodes and starts at a random one).
// Time from a group command to the last of N results; agents per MiB; then
// the outage: a mosquitto restart, or one cluster node killed (SIGKILL) with a
// group command published on a survivor while the agents that were on it are
// away. Time until all are online again, the busiest second of reconnects
// (jitter must spread them), and on a cluster the commands lost (goal 0) and
// run twice.
// Targets: N = 1,000 on this 2-core machine; all results within 2 s; no
// reconnect second above 3x the average; no command lost.
// `node bench/fleet.mjs [--quick] [--cluster=nats|rabbitmq] [--agents=N]
// [--window=N] [--reconnect-max-ms=N]`: without --cluster, all three, each
// printed beside the others.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, flags, printRows, row, within } from './lib.mjs';
import { ROOT, startMosquitto, stopProcess } from './brokers.mjs';
import mqtt from 'mqtt';
import { NatsCluster } from './nats-cluster.mjs';
import { RABBITMQ_SERVER, RabbitCluster } from './rabbitmq-cluster.mjs';

const MiB = 1024 * 1024;

/** One mosquitto: the outage is a restart, every agent reconnects to it. */
async function oneMosquitto() {
  const mosq = await startMosquitto({ extra: ['max_keepalive 120'] });
  return {
    bench: 'fleet',
    servers: [mosq.url],
    agents: numberFlag('agents', flags.quick ? 100 : 1000),
    protocolVersion: 5,
    // mosquitto takes a thousand CONNECTs at once, with the agents' default backoff.
    workerOptions: {},
    async outage() {
      await mosq.restart('SIGKILL');
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
  return {
    bench: 'fleet-nats',
    // Every QoS 1 subscription of every session is a durable JetStream
    // consumer replicated on the three nodes: four per agent, each a raft
    // group. With a thousand agents (4,000 of them) the three nodes on this
    // machine's 2 cores lose quorum on consumers within a minute of the fleet
    // being online, refuse sessions ("JetStream system temporarily
    // unavailable") and drop every connection (docs/brokers.md). The figure
    // on nats-server is taken with 100 agents; --agents=1000 shows the rest.
    agents: numberFlag('agents', 100),
    servers: cluster.urls,
    // nats-server's MQTT listener speaks 3.1.1.
    protocolVersion: 4,
    // nats-server gives each JetStream request an MQTT session needs 4 s
    // (hard-coded in 2.9); a session set-up that runs out of it is dropped
    // but leaves its durable consumers behind, and the agent's retry makes
    // more. Agents come online a few at a time, as when a fleet is rolled out.
    workerOptions: { window: numberFlag('window', 5), reconnectMaxMs: numberFlag('reconnect-max-ms', 0) },
    async outage(url) {
      // Every copy current first, as in a cluster that has been up a while.
      await cluster.waitReplicated();
      await cluster.kill(cluster.node(url));
    },
    logs: () => cluster.nodes.map((node) => `${node.name}: ${node.log()}`).join('\n'),
    stop: () => cluster.close(),
  };
}

/** Three RabbitMQ nodes, each session's queue a quorum queue: the outage is one node killed. */
async function rabbitCluster() {
  const cluster = await RabbitCluster.start();
  return {
    bench: 'fleet-rabbitmq',
    agents: numberFlag('agents', flags.quick ? 100 : 1000),
    servers: cluster.urls,
    // RabbitMQ 3.10's MQTT plugin speaks 3.1.1.
    protocolVersion: 4,
    // Each agent's first subscription declares its quorum queue: a few at a time, as a rollout does.
    workerOptions: { window: numberFlag('window', 5), reconnectMaxMs: numberFlag('reconnect-max-ms', 0) },
    async outage(url) {
      const victim = cluster.nodes.find((x) => x.url === url);
      // Every queue with a majority on the other two, as in a cluster that has been up a while.
      await cluster.waitReplicated(victim);
      await cluster.kill(victim);
    },
    logs: () => cluster.nodes.map((node) => `${node.name}: ${node.log()}`).join('\n'),
    stop: () => cluster.close(),
  };
}

/** Whether rabbitmq-server (Debian's package) is installed: its CLI cannot even say its version without a node. */
const haveRabbitmq = () => existsSync(RABBITMQ_SERVER);

/** `--name=N` on the command line, or the default. */
function numberFlag(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

/** Where a long run is, on stderr (the figures go to stdout). */
const progress = (bench, what) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${bench}: ${what}\n`);

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

/**
 * Publishes a group command on `url` and counts the distinct agents that
 * answered it. The operator is a persistent session on a node that stays up,
 * as a Node-RED flow's client can be: while a node is lost, a survivor may
 * still close its connection (nats-server during its elections, RabbitMQ 3.10
 * on a refused publish: docs/brokers.md), and the results published meanwhile
 * wait in its session. After such a drop MQTT.js sends an unacknowledged
 * command again: QoS 1 is at least once, the broker forwards the copy as a new
 * message and the agents rightly run it (docs/reliability.md). That is the row
 * "operator's connection lost", beside `commands run twice`.
 */
async function groupCommand(url, id, n, timeoutMs) {
  const deadline = Date.now() + 180_000;
  const client = mqtt.connect(url, {
    clientId: `dev2mqtt-bench-operator-${id}`,
    clean: false,
    protocolVersion: 4,
    connectTimeout: 30_000,
    reconnectPeriod: 500,
  });
  // Without a listener, a late `connack timeout` would end the bench; the last one is why a connection went.
  let lastError = '';
  client.on('error', (e) => (lastError = e.message));
  // A lost connection may send the command again (QoS 1 is at least once): say so beside the figures.
  let drops = 0;
  const t0 = performance.now();
  let ending = false;
  client.on('close', () => {
    if (ending) return;
    drops++;
    progress(
      'operator',
      `connection to ${url} lost ${((performance.now() - t0) / 1000).toFixed(1)} s after it was opened${lastError ? `: ${lastError}` : ''}`,
    );
  });
  try {
    const answered = new Set();
    let last = 0;
    client.on('message', (topic, p) => {
      if (!p.toString().includes(`"id":"${id}"`)) return;
      answered.add(topic);
      last = performance.now();
    });
    // Right after a node loss the survivors may refuse subscriptions until their queues have leaders again.
    for (;;) {
      if (client.connected) {
        const granted = await client.subscribeAsync('dev2mqtt/+/led0/result', { qos: 1 }).catch(() => []);
        if (granted.length && granted.every((g) => g.qos === 1)) break;
      }
      if (Date.now() > deadline) throw new Error(`${url} did not take the results subscription within 180 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const sent = performance.now();
    // QoS 1 on a persistent session: MQTT.js sends it again after a reconnect until it is acknowledged.
    await client.publishAsync('dev2mqtt/group/fleet/led0/cmd/set', `{"id":"${id}","state":"ON"}`, { qos: 1 });
    await waitFor(() => answered.size >= n, timeoutMs);
    return { got: answered.size, ms: last - sent, drops };
  } finally {
    ending = true;
    await client.endAsync(true);
  }
}

async function statsOf(procs) {
  const all = await Promise.all(
    procs
      .map(
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
      )
      .map((got, i) => within(got, 60_000, `fleet worker ${i}'s counts`, { proc: procs[i] })),
  );
  return {
    ok: all.reduce((sum, st) => sum + st.ok, 0),
    duplicates: all.reduce((sum, st) => sum + st.duplicates, 0),
    perAgent: all.flatMap((st) => st.perAgent),
  };
}

async function runFleet(broker) {
  const n = broker.agents;
  const workers = n > 100 ? 4 : 2;
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
      const args = [
        JSON.stringify(broker.servers),
        `f${w}`,
        String(count),
        String(broker.protocolVersion),
        JSON.stringify(broker.workerOptions),
      ];
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
      // A worker starts its agents paced (a window of them connecting at once): it ends only when they come online.
      started[w] = within(started[w], 600_000, `fleet worker ${w} to start its ${count} agents`, { proc: p });
    }
    const t0 = Date.now();
    const reports = await Promise.all(started);
    // start() returns before the connection is up: wait until every agent said online.
    progress(bench, `${n} agents started in ${workers} workers`);
    const allOnline = await waitFor(() => onlineAt.size >= n, 600_000);
    const startS = (Date.now() - t0) / 1000;
    // The figures below would describe part of a fleet.
    if (!allOnline) throw new Error(`${bench}: ${onlineAt.size} of ${n} agents online after ${startS} s`);
    const rss = reports.reduce((sum, r) => sum + r.rss, 0);
    const onEach = broker.servers.map((u) => [...on.values()].filter((x) => x === u).length);
    // The outage takes the node with the most agents; the operator works through another one.
    const gone = broker.servers[onEach.indexOf(Math.max(...onEach))];
    const operatorUrl = broker.servers.find((u) => u !== gone) ?? gone;

    // One group command, N results.
    progress(bench, `${onlineAt.size} online after ${startS} s; group command`);
    const first = await groupCommand(operatorUrl, 'fleet-1', n, 60_000);
    progress(bench, `${first.got} results (operator's connection lost ${first.drops}x); outage`);
    const executed = (await statsOf(procs)).ok;

    // The outage: every agent (mosquitto) or those of the killed node (cluster) must come back.
    const before = await statsOf(procs);
    // Counted before the outage: agents that are quick to reconnect are on a survivor by the time it returns.
    const affected = [...on.entries()].filter(([, u]) => u === gone).length;
    outageAt = Date.now();
    await broker.outage(gone);
    const cluster = broker.servers.length > 1;
    // On the cluster a group command goes out while the agents of the lost node are away.
    const during = cluster ? await groupCommand(operatorUrl, 'fleet-2', n, 120_000) : undefined;
    progress(
      bench,
      `${affected} agents cut off${during ? `; ${during.got} answered the command sent meanwhile (operator's connection lost ${during.drops}x)` : ''}`,
    );
    const back = await waitFor(() => reconnects.length >= affected, 180_000);
    // No reconnect at all is a broken run: NaN, not -Infinity, in the figures.
    const lastBack = reconnects.length ? Math.max(...reconnects) : NaN;
    const seconds = new Map();
    for (const t of reconnects) {
      const s = Math.floor((t - outageAt) / 1000);
      seconds.set(s, (seconds.get(s) ?? 0) + 1);
    }
    const spanS = Math.max(1, Math.ceil((lastBack - outageAt) / 1000));
    const avg = reconnects.length / spanS;
    const peak = seconds.size ? Math.max(...seconds.values()) : NaN;
    const after = await statsOf(procs);
    const rows = [
      row(bench, 'agents', n, '', atLeast(flags.quick ? 100 : 1000)),
      row(bench, 'worker processes', workers, ''),
      row(bench, 'agents connecting at once at start (0: no limit)', (broker.workerOptions.window ?? 0) * workers, ''),
      row(bench, 'mqtt.reconnectMaxMs', reports[0].reconnectMaxMs, 'ms'),
      ...(cluster ? [row(bench, 'agents per node at start', onEach.join(' / '), '')] : []),
      row(bench, 'time to start all and see them online', startS, 's'),
      row(bench, 'agents per MiB (worker RSS)', n / (rss / MiB), '/MiB'),
      row(bench, 'group commands run by the agents', executed, '', atLeast(n)),
      row(bench, 'group command results received', first.got, '', atLeast(n)),
      row(bench, "operator's connection lost during it", first.drops, ''),
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
      // Counted by the agents themselves, whatever the operator's connection saw: how often each ran a command since.
      const runs = after.perAgent.map((ok, i) => ok - before.perAgent[i]);
      rows.push(
        row(bench, 'group command during the outage: results the operator received', during.got, '', atLeast(n)),
        row(bench, "operator's connection lost during it", during.drops, ''),
        row(bench, 'commands lost (agents that never ran it)', runs.filter((r) => r === 0).length, '', atMost(0)),
        row(bench, 'commands run twice (agents that ran it more than once)', runs.filter((r) => r > 1).length, '', atMost(0)),
        row(bench, 'duplicates answered from the journal', after.duplicates - before.duplicates, ''),
      );
    }
    return rows;
  } catch (e) {
    // What the broker said is the likeliest explanation of a run that broke.
    if (broker.logs) process.stderr.write(`${bench}: the broker's last words:\n${broker.logs()}\n`);
    throw e;
  } finally {
    for (const p of procs) if (p.connected) p.send('stop');
    await Promise.all(
      procs.map((p) =>
        within(new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r))), 60_000, 'a fleet worker to stop').catch(() =>
          stopProcess(p, 'SIGKILL'),
        ),
      ),
    );
    await broker.stop();
  }
}

export async function runFleetBench() {
  return runFleet(await oneMosquitto());
}

export async function runNatsFleetBench() {
  return runFleet(await natsCluster());
}

/** The RabbitMQ cluster's figures, or one row saying why there are none. */
export async function runRabbitmqFleetBench() {
  if (!haveRabbitmq())
    return [
      row('fleet-rabbitmq', 'not run: rabbitmq-server is not installed (apt-get install --no-install-recommends rabbitmq-server)', '', ''),
    ];
  return runFleet(await rabbitCluster());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.find((a) => a.startsWith('--cluster'))?.split('=')[1];
  const runs = [
    ['fleet on one mosquitto', runFleetBench, !only],
    ['fleet on a three-node nats-server cluster', runNatsFleetBench, !only || only === 'nats'],
    ['fleet on a three-node RabbitMQ cluster', runRabbitmqFleetBench, !only || only === 'rabbitmq'],
  ];
  const all = [];
  for (const [title, run, wanted] of runs) {
    if (!wanted) continue;
    const rows = await run();
    all.push(...rows);
    printRows(rows, { title });
  }
  if (flags.json) console.log(JSON.stringify(all, null, 2));
}
