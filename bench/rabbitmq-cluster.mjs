// A real three-node RabbitMQ cluster on loopback (Debian's rabbitmq-server,
// its MQTT plugin), for the fleet bench's 1,000 agents: nats-server 2.9 on
// two cores does not hold that many sessions (docs/brokers.md). Each QoS 1
// MQTT session is one quorum queue (`mqtt.durable_queue_type = quorum`), a
// raft group with a member on every node, so the commands queued for an agent
// survive the loss of the node it was on. Every port is free at start, the
// nodes find each other through an epmd of their own, and everything lives
// under one temp dir that `close()` removes; a process that exits without
// calling it still kills its nodes.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { ClusterNode } from './cluster-node.mjs';
import { waitMs } from './lib.mjs';
import { freePort, listening } from './ports.mjs';

const BIN = '/usr/lib/rabbitmq/bin';
export const RABBITMQ_SERVER = path.join(BIN, 'rabbitmq-server');
const running = new Set();
/** The nodes' process groups, and the clusters' dirs. */
const groups = new Set();
const dirs = new Set();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function track(p) {
  running.add(p);
  p.once('exit', () => running.delete(p));
  return p;
}

class RabbitNode extends ClusterNode {
  constructor(name, dir, env, mqttPort) {
    super();
    this.name = name;
    this.dir = dir;
    this.env = env;
    this.mqttPort = mqttPort;
    this.url = `mqtt://127.0.0.1:${mqttPort}`;
  }

  start() {
    // The script stays as the VM's parent (it turns SIGTERM into a clean stop): the node is a
    // process group of its own, killed as one.
    const p = spawn(RABBITMQ_SERVER, [], { env: this.env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    groups.add(p.pid);
    // DEV2MQTT_RABBITMQ_LOG=info DEV2MQTT_RABBITMQ_LOG_DIR=dir: every line kept, for a run that needs explaining.
    const dir = process.env.DEV2MQTT_RABBITMQ_LOG_DIR;
    if (dir) {
      const file = createWriteStream(path.join(dir, `${this.name}.log`), { flags: 'a' });
      p.stdout.pipe(file, { end: false });
      p.stderr.pipe(file, { end: false });
      p.once('exit', () => file.end());
    }
    return this.attach(p, p.stdout, p.stderr);
  }

  /** `rabbitmqctl`-family command against this node: its stdout, or an error with what it said. */
  ctl(tool, args, timeoutMs = 120_000) {
    return new Promise((resolve, reject) => {
      execFile(
        path.join(BIN, tool),
        ['-n', this.env.RABBITMQ_NODENAME, ...args],
        { env: this.env, timeout: timeoutMs },
        (err, out, errOut) =>
          err ? reject(new Error(`${tool} ${args.join(' ')} on ${this.name}: ${errOut || out || err.message}`)) : resolve(out),
      );
    });
  }

  /** Signals the node's whole process group and waits until none of it is left. */
  async kill(signal) {
    const p = this.proc;
    if (!p) return;
    await killGroup(p.pid, signal);
    groups.delete(p.pid);
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killGroup(pgid, signal) {
  if (!groupAlive(pgid)) return;
  process.kill(-pgid, signal);
  while (groupAlive(pgid)) await pause(20);
}

export class RabbitCluster {
  #dir;
  #nodes;
  #epmd;

  constructor(dir, nodes, epmd) {
    this.#dir = dir;
    this.#nodes = nodes;
    this.#epmd = epmd;
  }

  /** Three nodes started, clustered, the MQTT listener of each accepting connections. */
  static async start() {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-rabbitmq-cluster-'));
    dirs.add(dir);
    // The Erlang cookie is read from $HOME: one home for the nodes and the CLI tools.
    writeFileSync(path.join(dir, '.erlang.cookie'), randomBytes(20).toString('hex'), { mode: 0o400 });
    writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
    const epmdPort = await freePort();
    const epmd = track(spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore' }));
    const deadline = Date.now() + waitMs(30_000);
    while (!(await listening(epmdPort))) {
      if (epmd.exitCode !== null) throw new Error('epmd did not start');
      if (Date.now() > deadline) throw new Error(`gave up after ${waitMs(30)} s waiting for epmd to listen on ${epmdPort}`);
      await pause(20);
    }
    const names = ['d2m-r1', 'd2m-r2', 'd2m-r3'].map((n) => `${n}@localhost`);
    const nodes = [];
    for (const [i, nodename] of names.entries()) {
      const base = path.join(dir, `n${i + 1}`);
      mkdirSync(base);
      const [amqp, mqttPort, distPort] = [await freePort(), await freePort(), await freePort()];
      const conf = path.join(base, 'rabbitmq.conf');
      writeFileSync(
        conf,
        [
          `listeners.tcp.default = 127.0.0.1:${amqp}`,
          `mqtt.listeners.tcp.default = 127.0.0.1:${mqttPort}`,
          // One quorum queue per session: the queued commands have a copy on every node.
          'mqtt.durable_queue_type = quorum',
          'cluster_formation.peer_discovery_backend = classic_config',
          ...names.map((n, j) => `cluster_formation.classic_config.nodes.${j + 1} = ${n}`),
          'log.console = true',
          `log.console.level = ${process.env.DEV2MQTT_RABBITMQ_LOG ?? 'warning'}`,
          'log.file = false',
          '',
        ].join('\n'),
      );
      const env = {
        PATH: process.env.PATH,
        HOME: dir,
        LANG: 'C.UTF-8',
        // A node that dies writes its crash dumps here, not into the caller's working directory.
        ERL_CRASH_DUMP: path.join(base, 'erl_crash.dump'),
        ERL_EPMD_PORT: String(epmdPort),
        ERL_EPMD_ADDRESS: '127.0.0.1',
        RABBITMQ_NODENAME: nodename,
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: conf,
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: path.join(base, 'mnesia'),
        RABBITMQ_LOG_BASE: path.join(base, 'log'),
        RABBITMQ_PID_FILE: path.join(base, 'pid'),
        RABBITMQ_CONF_ENV_FILE: path.join(base, 'rabbitmq-env.conf'),
        RABBITMQ_ADVANCED_CONFIG_FILE: path.join(base, 'advanced.config'),
        // Erlang distribution on loopback only, and no VM (node or CLI) starting an epmd that would outlive the bench.
        ERL_FLAGS: '-start_epmd false',
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      };
      writeFileSync(env.RABBITMQ_CONF_ENV_FILE, '');
      writeFileSync(env.RABBITMQ_ADVANCED_CONFIG_FILE, '[].\n');
      nodes.push(new RabbitNode(`n${i + 1}`, base, env, mqttPort));
    }
    const cluster = new RabbitCluster(dir, nodes, epmd);
    try {
      // The first node boots alone, then the others join it: started together, each finds the
      // others' tables missing and boots a cluster of its own first, and the MQTT plugin's
      // client-id registry (a raft group) can be left without the node that lost that race.
      await nodes[0].start();
      await cluster.#boot(nodes[0]);
      await Promise.all(nodes.slice(1).map((n) => n.start()));
      for (const n of nodes.slice(1)) await cluster.#boot(n);
      await cluster.#until(async () => (await cluster.runningNodes(nodes[0])) === 3, 'three running cluster members', 120_000);
      // Every node's MQTT side works end to end: a persistent session and its quorum queue.
      for (const n of nodes) await cluster.#until(() => takesSession(n), `${n.name} to take an MQTT session`, 120_000);
    } catch (e) {
      await cluster.close();
      throw new Error(`rabbitmq cluster: ${e.message}\n${nodes.map((n) => `${n.name}: ${n.log()}`).join('\n')}`, { cause: e });
    }
    return cluster;
  }

  get nodes() {
    return this.#nodes;
  }

  get urls() {
    return this.#nodes.map((n) => n.url);
  }

  /** How many members `node` sees running. */
  async runningNodes(node) {
    try {
      const status = JSON.parse(await node.ctl('rabbitmqctl', ['cluster_status', '--formatter', 'json'], 60_000));
      return (status.running_nodes ?? []).length;
    } catch {
      return 0;
    }
  }

  /**
   * Waits until losing `node` would leave every quorum queue (the MQTT
   * sessions, and the cluster's own client-id tracking) with a majority:
   * before that, killing it could take queued commands with it.
   */
  async waitReplicated(node, timeoutMs = 300_000) {
    await this.#until(
      () =>
        node.ctl('rabbitmq-diagnostics', ['check_if_node_is_quorum_critical'], 120_000).then(
          () => true,
          () => false,
        ),
      `${node.name} to be no quorum queue's critical member`,
      timeoutMs,
    );
  }

  /** SIGKILL: the node is gone at once, as a crashed machine is. */
  async kill(node) {
    await node.kill('SIGKILL');
  }

  /** Starts a killed node again on its data dir: it rejoins, and its MQTT listener takes sessions again. */
  async restart(node) {
    await node.start();
    await this.#boot(node);
    await this.#until(async () => (await this.runningNodes(node)) === 3, 'three running cluster members', 120_000);
    await this.#until(() => takesSession(node), `${node.name} to take an MQTT session`, 120_000);
  }

  /** Kills every node still running and its epmd, and removes the dir. */
  async close() {
    await Promise.all(this.#nodes.map((n) => n.kill('SIGKILL')));
    if (this.#epmd.exitCode === null && this.#epmd.signalCode === null) {
      await new Promise((resolve) => {
        this.#epmd.once('exit', () => resolve());
        this.#epmd.kill('SIGKILL');
      });
    }
    rmSync(this.#dir, { recursive: true, force: true });
    dirs.delete(this.#dir);
  }

  #boot(n) {
    return this.#until(
      async () => {
        if (!n.alive) throw new Error(`${n.name} exited`);
        // await_startup needs the node's VM registered with epmd already: ask until it is.
        return n.ctl('rabbitmqctl', ['await_startup', '--timeout', '300'], 320_000).then(
          () => true,
          () => false,
        );
      },
      `${n.name} to boot`,
      300_000,
    );
  }

  async #until(cond, what, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`rabbitmq cluster: timed out waiting for ${what}`);
      await pause(500);
    }
  }
}

/** Whether `node` accepts a persistent MQTT session and grants it a QoS 1 subscription. */
async function takesSession(node) {
  const c = mqtt.connect(node.url, {
    clientId: `dev2mqtt-warmup-${node.name}`,
    clean: false,
    protocolVersion: 4,
    connectTimeout: 10_000,
    reconnectPeriod: 0,
  });
  c.on('error', () => undefined);
  try {
    await new Promise((resolve, reject) => {
      c.once('connect', resolve);
      c.once('close', () => reject(new Error('closed')));
    });
    const granted = await c.subscribeAsync('dev2mqtt-warmup/#', { qos: 1 });
    return granted.every((g) => g.qos === 1);
  } catch {
    return false;
  } finally {
    await c.endAsync(true).catch(() => undefined);
  }
}
