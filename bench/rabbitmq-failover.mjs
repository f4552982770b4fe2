// Does a QoS 1 command queued in a persistent session follow the client to a
// surviving RabbitMQ node? One three-node cluster (bench/rabbitmq-cluster.mjs,
// Debian's rabbitmq-server 3.10, each clean=false QoS 1 session a quorum queue
// on all three nodes), and a series of tries, each one session, one QoS 1
// message and (mostly) one node killed with SIGKILL, then the killed node
// started again for the next try. Each try says whether the message came, how
// long after the reconnect, and what the broker said: CONNACK sessionPresent,
// the session queue's leader and members before the kill, its messages and
// consumers after the reconnect, what the publisher got (PUBACK, or its
// connection closed), refused reconnects.
//
//   node bench/rabbitmq-failover.mjs [--tries=N] [--only=NAME,…] [--wait-ms=MS]
//
// Not part of CI (RabbitMQ is not in .ci/run): without rabbitmq-server it says
// so and exits 1 under CI=true, 0 otherwise. `npm run build` first: the agent
// tries run dist/. DEV2MQTT_RABBITMQ_LOG=debug DEV2MQTT_RABBITMQ_LOG_DIR=dir
// keeps every node's log.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { tempDir } from './brokers.mjs';
import { RABBITMQ_SERVER, RabbitCluster } from './rabbitmq-cluster.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v = 'true'] = a.replace(/^--/, '').split('=');
    return [k, v];
  }),
);
const TRIES = Number(args.tries ?? 2);
const ONLY = args.only ? new Set(args.only.split(',')) : undefined;
/** How long a try waits for the message after the reconnect: long enough to tell late from lost. */
const WAIT_MS = Number(args['wait-ms'] ?? 60_000);

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const since = (t) => Date.now() - t;

/**
 * The scenarios. Nodes by index 0..2. `session`: where the session (and so its
 * quorum queue's leader: RabbitMQ 3.10 puts it on the declaring node) is made;
 * `on`: the node the subscriber is on (connected, or last connected) at the
 * kill; `kill`: the node killed (undefined: none); `publish`: 'before' the kill
 * (the subscriber away) or 'during' the outage; `publisher`: 'resend' (MQTT.js
 * reconnecting and sending its unacknowledged publish again) or 'once' (gives
 * up when its connection closes, as mosquitto_pub does); `back`: the node the
 * subscriber reconnects to, `delayMs` after the kill.
 */
const base = {
  proto: 4,
  subQos: 1,
  session: 0,
  on: 0,
  connected: false,
  kill: 0,
  publish: 'before',
  publishOn: 1,
  publisher: 'resend',
  back: 2,
  delayMs: 0,
  resubscribe: true,
  client: 'bare',
};
const SCENARIOS = [
  { name: 'mqtt5-connect', note: 'MQTT 5 CONNECT (session expiry) on 3.10', ...base, proto: 5, kill: undefined },
  { name: 'agent-mqtt5', note: 'the agent at mqtt.protocolVersion 5 on 3.10', ...base, proto: 5, client: 'agent', kill: undefined },
  { name: 'qos0-sub-no-kill', note: 'QoS 0 subscription, away, no node killed', ...base, subQos: 0, kill: undefined, back: 0 },
  { name: 'away-before-kill', note: 'away; published before the kill; leader on the killed node', ...base },
  { name: 'away-before-kill-wait10s', note: 'same, reconnect 10 s after the kill', ...base, delayMs: 10_000 },
  { name: 'away-before-kill-no-resub', note: 'same, no SUBSCRIBE after the reconnect', ...base, resubscribe: false },
  { name: 'away-leader-elsewhere', note: 'away from n1 (killed); the session queue leader on n3', ...base, session: 2 },
  { name: 'away-during-resend', note: 'away; published during the outage by a resending publisher', ...base, publish: 'during' },
  {
    name: 'away-during-once',
    note: 'away; published during the outage by a publisher that does not resend',
    ...base,
    publish: 'during',
    publisher: 'once',
  },
  {
    name: 'connected-during-resend',
    note: 'connected to the killed node; published during the outage',
    ...base,
    connected: true,
    publish: 'during',
  },
  { name: 'qos0-sub-kill', note: 'QoS 0 subscription, away, its node killed', ...base, subQos: 0 },
  { name: 'late-listener', note: "same as away-before-kill, the client's 'message' listener added once connected", ...base, late: true },
  { name: 'late-listener-no-kill', note: 'the same late listener, no node killed', ...base, late: true, kill: undefined, back: 0 },
  {
    name: 'agent-during',
    note: 'the agent (dist/) on the killed node; command published during the outage',
    ...base,
    client: 'agent',
    connected: true,
    publish: 'during',
  },
];

/**
 * `onMessage` is attached before the CONNECT goes out: a session's queued
 * messages may arrive in the same read as the CONNACK, and MQTT.js emits
 * (and acknowledges) them before a listener added once `connect` fired (or
 * `connectAsync` resolved) exists: the broker then counts them delivered.
 * `late: true` does just that, to show it.
 */
function connectOnce(url, clientId, opts = {}, onMessage = undefined, late = false) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 15_000, ...opts });
    if (onMessage && !late) c.on('message', onMessage);
    if (onMessage && late) c.once('connect', () => void Promise.resolve().then(() => c.on('message', onMessage)));
    let why = 'closed before CONNACK';
    c.on('error', (e) => (why = e.message));
    c.once('connect', (connack) => resolve({ client: c, sessionPresent: connack.sessionPresent }));
    c.once('close', () => {
      c.end(true);
      reject(new Error(why));
    });
  });
}

/** Connects until a CONNACK accepts it: the refusals (a node electing leaders) are part of the story. */
async function connectUntil(url, clientId, timeoutMs, opts, onMessage, late) {
  const t0 = Date.now();
  const refusals = [];
  for (;;) {
    try {
      return { ...(await connectOnce(url, clientId, opts, onMessage, late)), refusals, ms: since(t0) };
    } catch (e) {
      refusals.push(e.message);
      if (since(t0) > timeoutMs) throw new Error(`no connection in ${timeoutMs} ms: ${refusals.slice(-3).join(' | ')}`, { cause: e });
      await pause(500);
    }
  }
}

async function queueInfo(node, name) {
  try {
    const out = await node.ctl(
      'rabbitmqctl',
      ['list_queues', 'name', 'type', 'leader', 'members', 'messages', 'consumers', '--formatter', 'json'],
      30_000,
    );
    const q = JSON.parse(out).find((x) => x.name === name);
    if (!q) return 'no queue';
    const short = (n) => String(n).replace(/^d2m-r(\d)@localhost$/, 'n$1');
    return `${q.type} leader=${short(q.leader)} members=${(q.members ?? []).map(short).join('/')} messages=${q.messages} consumers=${q.consumers}`;
  } catch (e) {
    return `list_queues failed: ${e.message.split('\n')[0]}`;
  }
}

/** A publisher: 'resend' reconnects and sends its unacknowledged QoS 1 publish again; 'once' does not. */
async function publishOne(url, topic, payload, kind) {
  const c = mqtt.connect(url, {
    clientId: `d2m-fo-pub-${Date.now()}`,
    protocolVersion: 4,
    reconnectPeriod: kind === 'resend' ? 500 : 0,
    connectTimeout: 15_000,
  });
  const events = [];
  c.on('error', (e) => events.push(`error: ${e.message}`));
  c.on('close', () => events.push('closed'));
  c.on('connect', () => events.length && events.push('reconnected'));
  const outcome = await new Promise((resolve) => {
    c.publish(topic, payload, { qos: 1 }, (err) => resolve(err ? `not acknowledged: ${err.message}` : 'PUBACK'));
    if (kind === 'once') c.once('close', () => resolve('connection closed before PUBACK; not sent again'));
    setTimeout(() => resolve('no PUBACK in 60 s'), 60_000).unref();
  });
  await c.endAsync(true).catch(() => undefined);
  return `${outcome}${events.length ? ` (${[...new Set(events)].join(', ')})` : ''}`;
}

/** A bare MQTT.js subscriber, or the agent from dist/, as the session's owner. */
async function startAgent(cluster, id, root, { proto = 4, log = pino({ level: 'silent' }), waitOnline = true } = {}) {
  const [{ Agent }, { loadConfig }, { builtinKinds }, { KindRegistry }] = await Promise.all([
    import('../dist/agent/agent.js'),
    import('../dist/config/load.js'),
    import('../dist/devices/builtin.js'),
    import('../dist/devices/registry.js'),
  ]);
  const registry = new KindRegistry(builtinKinds());
  const config = await loadConfig({
    registry,
    env: {},
    object: {
      node: { id, stateDir: path.join(root, id) },
      mqtt: { servers: cluster.urls, protocolVersion: proto, keepaliveS: 30 },
      telemetry: { intervalMs: 3_600_000 },
      log: { level: 'silent' },
      devices: [{ id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } }],
    },
  });
  let onlineTimes = 0;
  let wake;
  const agent = new Agent({ config, registry, log, firstServer: 0, onOnline: () => (onlineTimes++, wake?.()) });
  await agent.start();
  const online = (n) => new Promise((r) => (onlineTimes >= n ? r() : (wake = () => onlineTimes >= n && r())));
  if (waitOnline) await online(1);
  return { agent, online };
}

async function runTry(cluster, sc, n) {
  const nodes = cluster.nodes;
  const id = `d2m-fo-${sc.name}-${n}`;
  const topic = sc.client === 'agent' ? `dev2mqtt/${id}/led0/cmd/set` : `d2m-fo/${id}/cmd`;
  const queue = `mqtt-subscription-${sc.client === 'agent' ? `dev2mqtt_${id}` : id}qos1`;
  const r = { try: `${sc.name}#${n}` };
  if (sc.proto === 5 && sc.client === 'agent') {
    // What an agent left at mqtt.protocolVersion 5 says about it: its first error line.
    const root = tempDir('dev2mqtt-failover-');
    let said;
    const sink = { write: (line) => (said ??= JSON.parse(line).msg) };
    const { agent } = await startAgent(cluster, id, root, { proto: 5, log: pino({ level: 'error' }, sink), waitOnline: false });
    const t0 = Date.now();
    while (!said && since(t0) < 30_000) await pause(100);
    r.outcome = `${agent.connected ? 'connected' : 'not connected'}; its log: ${said ?? 'nothing in 30 s'}`;
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
    return r;
  }
  if (sc.proto === 5) {
    try {
      const { client } = await connectOnce(nodes[0].url, id, { protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
      r.outcome = 'accepted';
      await client.endAsync(true);
    } catch (e) {
      r.outcome = `refused: ${e.message}`;
    }
    return r;
  }
  const root = tempDir('dev2mqtt-failover-');
  let reconnectedAt;
  let sub;
  let agent;
  const got = [];
  try {
    if (sc.client === 'agent') {
      agent = await startAgent(cluster, id, root);
    } else {
      // The session is made (and its queue declared, so led) on `session`, then moved to `on`.
      const first = await connectUntil(nodes[sc.session].url, id, 30_000);
      await first.client.subscribeAsync(topic, { qos: sc.subQos });
      await first.client.endAsync();
      if (sc.on !== sc.session || sc.connected) {
        const moved = await connectUntil(nodes[sc.on].url, id, 30_000);
        if (sc.connected) {
          sub = moved.client;
          sub.on('message', (t, p) => got.push({ p: p.toString(), t: Date.now() }));
          await sub.subscribeAsync(topic, { qos: sc.subQos });
        } else await moved.client.endAsync();
      }
    }
    r.before = await queueInfo(nodes[(sc.kill ?? 0) === 0 ? 1 : 0], queue);
    const payload = JSON.stringify({ id: `m-${n}`, state: 'ON' });
    if (sc.publish === 'before') r.publisher = await publishOne(nodes[sc.publishOn].url, topic, payload, sc.publisher);
    const killedAt = Date.now();
    if (sc.kill !== undefined) {
      await cluster.waitReplicated(nodes[sc.kill], 120_000);
      await cluster.kill(nodes[sc.kill]);
    }
    if (sc.publish === 'during') r.publisher = await publishOne(nodes[sc.publishOn].url, topic, payload, sc.publisher);
    const survivor = nodes[sc.back];
    if (sc.client === 'agent') {
      await agent.online(2);
      reconnectedAt = Date.now();
      r.reconnect = `online again ${since(killedAt)} ms after the kill on ${agent.agent.server}`;
    } else {
      if (sub) await sub.endAsync(true).catch(() => undefined);
      const wait = sc.delayMs - since(killedAt);
      if (wait > 0) await pause(wait);
      const again = await connectUntil(survivor.url, id, 60_000, {}, (t, p) => got.push({ p: p.toString(), t: Date.now() }), sc.late);
      sub = again.client;
      reconnectedAt = Date.now();
      r.reconnect = `sessionPresent=${again.sessionPresent} ${since(killedAt)} ms after the kill${again.refusals.length ? `, ${again.refusals.length} refused first (${[...new Set(again.refusals)].join(' | ')})` : ''}`;
      if (sc.resubscribe) {
        const granted = await sub.subscribeAsync(topic, { qos: sc.subQos }).catch((e) => [{ qos: `error ${e.message}` }]);
        r.reconnect += `, granted QoS ${granted.map((g) => g.qos).join(',')}`;
      }
    }
    const arrived = () => (agent ? agent.agent.dispatcher.stats.ok + agent.agent.dispatcher.stats.failed > 0 : got.length > 0);
    const deadline = reconnectedAt + WAIT_MS;
    while (!arrived() && Date.now() < deadline) await pause(100);
    r.after = await queueInfo(survivor, queue);
    if (agent) {
      const s = agent.agent.dispatcher.stats;
      r.outcome = arrived() ? `delivered: run ${s.ok + s.failed}×, duplicates ${s.duplicates}` : `LOST (waited ${WAIT_MS} ms)`;
    } else {
      r.outcome = got.length
        ? `delivered ${Math.max(0, got[0].t - reconnectedAt)} ms after the reconnect${got.length > 1 ? ` (${got.length} copies)` : ''}`
        : `LOST (waited ${WAIT_MS} ms)`;
    }
  } catch (e) {
    r.outcome = `ERROR ${e.message.split('\n')[0]}`;
  } finally {
    if (sub) await sub.endAsync(true).catch(() => undefined);
    if (agent) await agent.agent.stop();
    if (sc.kill !== undefined && !nodes[sc.kill].alive) await cluster.restart(nodes[sc.kill]);
    // A clean session deletes the try's queue: the next try starts from a light cluster.
    await connectOnce(nodes[sc.back].url, sc.client === 'agent' ? `dev2mqtt_${id}` : id, { clean: true })
      .then(({ client }) => client.endAsync())
      .catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
  return r;
}

// Stopped (Ctrl-C, timeout): the 'exit' handlers of rabbitmq-cluster.mjs kill the nodes and remove their dirs.
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

async function main() {
  if (!existsSync(RABBITMQ_SERVER)) {
    console.log('rabbitmq-failover: not run: rabbitmq-server is not installed (apt-get install --no-install-recommends rabbitmq-server)');
    process.exit(process.env.CI === 'true' ? 1 : 0);
  }
  const t0 = Date.now();
  const cluster = await RabbitCluster.start();
  console.log(`cluster up in ${since(t0)} ms: ${cluster.urls.join(' ')}`);
  const tally = [];
  try {
    for (const sc of SCENARIOS) {
      if (ONLY && !ONLY.has(sc.name)) continue;
      let ok = 0;
      const tries = sc.proto === 5 ? 1 : TRIES;
      for (let n = 1; n <= tries; n++) {
        const r = await runTry(cluster, sc, n);
        if (/^delivered/.test(r.outcome)) ok++;
        console.log(JSON.stringify(r));
      }
      tally.push(`${sc.name.padEnd(28)} ${ok} of ${tries} tries delivered  (${sc.note})`);
    }
  } finally {
    await cluster.close();
  }
  console.log(`\n${tally.join('\n')}\n(${Math.round(since(t0) / 1000)} s)`);
}

await main();
