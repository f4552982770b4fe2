// A real three-node nats-server cluster on loopback, for the cluster tests
// (test/reliability/cluster.test.ts) and the fleet bench's cluster mode: each
// node with its MQTT listener and JetStream, the MQTT streams (sessions,
// queued messages, retained messages) and their consumers replicated on all
// three, so the loss of one node loses none of them. Every port is free at
// start; every node has its own store under one temp dir. `close()` kills what
// is left and removes the dir; a process that exits without calling it still
// kills its nodes.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { ClusterNode } from './cluster-node.mjs';
import { waitMs } from './lib.mjs';
import { freePort, listening } from './ports.mjs';

const MQTT_STREAMS = ['$MQTT_sess', '$MQTT_msgs', '$MQTT_rmsgs'];
const running = new Set();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

class NatsNode extends ClusterNode {
  constructor(name, conf, mqttPort, httpPort) {
    super();
    this.name = name;
    this.conf = conf;
    this.mqttPort = mqttPort;
    this.httpPort = httpPort;
    this.url = `mqtt://127.0.0.1:${mqttPort}`;
  }

  async start() {
    const p = spawn('nats-server', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(p);
    p.once('exit', () => running.delete(p));
    await this.attach(p, p.stderr);
    const deadline = Date.now() + waitMs(30_000);
    while (!(await listening(this.mqttPort))) {
      if (!this.alive) throw new Error(`nats-server ${this.name} exited: ${this.log()}`);
      if (Date.now() > deadline)
        throw new Error(`gave up after ${waitMs(30)} s waiting for nats-server ${this.name} to listen on ${this.mqttPort}: ${this.log()}`);
      await pause(20);
    }
  }

  async kill(signal) {
    const p = this.proc;
    if (!p || !this.alive) return;
    await new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }
}

export class NatsCluster {
  #dir;
  #nodes;

  constructor(dir, nodes) {
    this.#dir = dir;
    this.#nodes = nodes;
  }

  /** Three nodes started and healthy (a JetStream meta leader that all of them know). */
  static async start() {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-nats-cluster-'));
    const ports = [];
    for (let i = 0; i < 3; i++)
      ports.push({ client: await freePort(), route: await freePort(), mqtt: await freePort(), http: await freePort() });
    const nodes = ports.map((p, i) => {
      const name = `n${i + 1}`;
      const store = path.join(dir, name);
      mkdirSync(store);
      const routes = ports.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.route}`);
      const conf = path.join(dir, `${name}.conf`);
      writeFileSync(
        conf,
        [
          `server_name: ${name}`,
          `listen: "127.0.0.1:${p.client}"`,
          `http: "127.0.0.1:${p.http}"`,
          `jetstream { store_dir: "${store}" }`,
          `cluster { name: dev2mqtt, listen: "127.0.0.1:${p.route}", routes: [${routes.join(', ')}] }`,
          // Sessions, queued QoS 1 messages, retained messages and the consumers that deliver them: on all three.
          `mqtt { listen: "127.0.0.1:${p.mqtt}", stream_replicas: 3, consumer_replicas: 3 }`,
          '',
        ].join('\n'),
      );
      return new NatsNode(name, conf, p.mqtt, p.http);
    });
    const cluster = new NatsCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await cluster.#until(async () => (await Promise.all(nodes.map((n) => healthy(n)))).every(Boolean), 'a JetStream meta leader', 60_000);
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /**
   * Creates the MQTT streams before anyone depends on them: the first MQTT
   * session on a fresh cluster creates them (replicated, so a leader election
   * for each), and until that settles a node refuses subscriptions. One
   * persistent session per node, one node after the other, each retried until
   * its subscription is granted; then every copy current.
   */
  async ready(timeoutMs = 90_000) {
    for (const n of this.#nodes) {
      await this.#until(() => grantsSubscription(n), `${n.name} to grant an MQTT subscription`, timeoutMs);
    }
    await this.waitReplicated(timeoutMs);
  }

  get nodes() {
    return this.#nodes;
  }

  get urls() {
    return this.#nodes.map((n) => n.url);
  }

  node(url) {
    const n = this.#nodes.find((x) => x.url === url);
    if (!n) throw new Error(`${url} is no node of this cluster`);
    return n;
  }

  /** SIGKILL: the node is gone at once, as a crashed machine is. */
  async kill(node) {
    await node.kill('SIGKILL');
  }

  async restart(node) {
    await node.start();
  }

  /**
   * Waits until the MQTT streams exist, each has a leader and every live
   * replica caught up: before that, killing a node can take the only current
   * copy of something with it. Only a stream's leader knows whether its
   * replicas are current, so each stream is judged by its leader's report.
   */
  async waitReplicated(timeoutMs = 60_000) {
    const live = this.#nodes.filter((n) => n.alive);
    await this.#until(
      async () => {
        const views = await Promise.all(live.map(async (n) => ({ node: n.name, streams: await streams(n) })));
        return MQTT_STREAMS.every((name) =>
          views.some(({ node, streams }) => {
            const c = streams.find((x) => x.name === name)?.cluster;
            return c?.leader === node && (c.replicas ?? []).every((r) => r.current || !live.some((n) => n.name === r.name));
          }),
        );
      },
      'the MQTT streams replicated on every node',
      timeoutMs,
    );
  }

  /** Kills every node still running and removes the stores. */
  async close() {
    await Promise.all(this.#nodes.map((n) => n.kill('SIGKILL')));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #until(cond, what, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) {
        throw new Error(
          `nats cluster: timed out waiting for ${what}; logs:\n${this.#nodes.map((n) => `${n.name}: ${n.log()}`).join('\n')}`,
        );
      }
      await pause(200);
    }
  }
}

async function healthy(n) {
  try {
    return (await fetch(`http://127.0.0.1:${n.httpPort}/healthz`)).ok;
  } catch {
    return false;
  }
}

async function streams(n) {
  try {
    const j = await (await fetch(`http://127.0.0.1:${n.httpPort}/jsz?accounts=true&streams=true`)).json();
    return (j.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
  } catch {
    return [];
  }
}

/**
 * A connection or undefined, never an unheard 'error': MQTT.js can emit a
 * late `connack timeout` after connectAsync gave up on the client, and an
 * 'error' without a listener ends the process.
 */
function connectOnce(url, opts) {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { ...opts, reconnectPeriod: 0 });
    c.on('error', () => undefined);
    c.once('connect', () => resolve(c));
    c.once('close', () => {
      c.end(true);
      resolve(undefined);
    });
  });
}

async function grantsSubscription(n) {
  const c = await connectOnce(n.url, { clientId: `dev2mqtt-warmup-${n.name}`, clean: false, protocolVersion: 4, connectTimeout: 5000 });
  if (!c) return false;
  try {
    const granted = await c.subscribeAsync('dev2mqtt-warmup/#', { qos: 1 });
    return granted.every((g) => g.qos === 1);
  } catch {
    return false;
  } finally {
    await c.endAsync(true).catch(() => undefined);
  }
}
