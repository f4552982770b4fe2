/**
 * The agent: one node's devices, its MQTT connection and everything between.
 * No module-level state: several agents run in one process (tests, the fleet
 * benchmark), each with its own broker connection, journal and devices.
 */
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/load.js';
import type { KindRegistry } from '../devices/registry.js';
import { DiscoveryPublisher } from '../homeassistant/publisher.js';
import type { Kernel } from '../kernel/kernel.js';
import { LibcKernel } from '../kernel/libc.js';
import type { EmbeddedBroker } from '../transport/embedded.js';
import { MqttTransport } from '../transport/mqtt.js';
import type { Transport } from '../transport/transport.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../devices/kind.js';
import { readSecretFile } from '../secret-file.js';
import { version } from '../version.js';
import { DeviceRuntime, type RuntimeHooks } from './device-runtime.js';
import { Dispatcher, type Reply } from './dispatcher.js';
import { CommandJournal, type Recovery } from './journal.js';
import { finishPreviousRun } from './recovery.js';
import { RateLimiter } from './rate-limit.js';
import type { CommandResult } from './result.js';
import { commandsOf, Telemetry } from './telemetry.js';
import { commandSubscriptions, deviceTopic, nodeTopic, type TopicScheme } from './topics.js';

export interface AgentOptions {
  readonly config: AgentConfig;
  /** Holds the kinds of config.devices (built-in and plug-ins). */
  readonly registry: KindRegistry;
  readonly log: Logger;
  /** `exec` mode: open only this device, no MQTT, no journal. */
  readonly only?: string;
  /** Receives events in exec mode (progress bars). */
  readonly onEvent?: (device: string, type: string, data: Record<string, unknown>) => void;
  /** Called each time the agent has (re)subscribed and published `online` (the fleet benchmark counts reconnects). */
  readonly onOnline?: () => void;
}

/** Time the whole shutdown may take; the contract allows 5 s. */
const SHUTDOWN_MS = 4500;

export class Agent {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly topics: TopicScheme;
  readonly devices = new Map<string, DeviceRuntime>();
  readonly #o: AgentOptions;
  readonly #startedAt = Date.now();
  #kernel: Kernel | undefined;
  #broker: EmbeddedBroker | undefined;
  #transport: Transport | undefined;
  #telemetry: Telemetry | undefined;
  #discovery: DiscoveryPublisher | undefined;
  #dispatcher: Dispatcher | undefined;
  #journal: CommandJournal | undefined;
  /** What the previous run left unfinished (see journal.ts), handled once connected. */
  #recovery: Recovery | undefined;
  #stopping = false;
  #onlineWaiters: Array<() => void> = [];
  #announcedOnline = false;
  /** Every device's first open attempt; the broker connection does not wait for it. */
  #devicesStarted: Promise<unknown> = Promise.resolve();

  constructor(o: AgentOptions) {
    this.#o = o;
    this.config = o.config;
    this.log = o.log.child({ node: o.config.node.id });
    this.topics = { base: o.config.mqtt.baseTopic, node: o.config.node.id, groups: o.config.node.groups };
  }

  get dispatcher(): Dispatcher {
    if (!this.#dispatcher) throw new Error('agent not started');
    return this.#dispatcher;
  }

  /** Where the embedded broker listens, when there is one. */
  get brokerPort(): number | undefined {
    return this.#broker?.port;
  }

  get connected(): boolean {
    return this.#transport?.connected ?? false;
  }

  /** Resolves once `online` has been published after subscribing. */
  whenOnline(): Promise<void> {
    if (this.#announcedOnline) return Promise.resolve();
    return new Promise((resolve) => this.#onlineWaiters.push(resolve));
  }

  async start(): Promise<void> {
    const c = this.config;
    mkdirSync(c.node.stateDir, { recursive: true });
    const exec = this.#o.only !== undefined;
    if (!exec) {
      this.#journal = new CommandJournal(c.node.stateDir, c.security.dedupeWindow);
      this.#recovery = this.#journal.recover();
    }
    await this.#createDevices();
    this.#dispatcher = this.#createDispatcher();
    this.#devicesStarted = Promise.all([...this.devices.values()].map((d) => d.start()));
    // Devices open while the broker connection is set up: start-up costs the longer of the two.
    // Leftovers of a crash go first, before anything new (see #finishPreviousRun): their
    // devices must have had their chance to open by then.
    if (this.#recovery?.pending.length) await this.#devicesStarted;
    if (!exec) await this.#connect();
    await this.#devicesStarted;
  }

  /** Runs one command without MQTT (dev2mqtt exec), through the same validation and queue. */
  exec(device: string, command: string, payload: Buffer): Promise<CommandResult> {
    return this.dispatcher.execute(device, command, payload);
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const deadline = performance.now() + SHUTDOWN_MS;
    this.#telemetry?.stop();
    this.#discovery?.stop();
    // Running commands get most of the budget; their results still go out.
    await Promise.all([...this.devices.values()].map((d) => d.stop(SHUTDOWN_MS - 1500)));
    const t = this.#transport;
    if (t) {
      const left = Math.max(100, deadline - performance.now());
      if (t.connected) {
        await Promise.race([
          t.publish(nodeTopic(this.topics, 'status'), 'offline', { qos: 1, retain: true }).catch(() => undefined),
          new Promise((r) => setTimeout(r, Math.min(1000, left))),
        ]);
      }
      await t.stop(Math.max(100, deadline - performance.now()));
    }
    await this.#broker?.close();
    this.#journal?.close();
    this.log.info('stopped');
  }

  /** What devices tell the agent; telemetry exists only once connected, so each hook looks it up. */
  readonly #hooks: RuntimeHooks = {
    event: (id, type, data) => {
      this.#o.onEvent?.(id, type, data);
      this.#telemetry?.event(id, type, data);
    },
    stateChanged: (id) => this.#telemetry?.stateChanged(id),
    availability: (id, online, reason) => {
      if (!online && reason) this.log.debug({ device: id, reason }, 'device offline');
      this.#telemetry?.availability(id, online);
    },
  };

  /** One runtime per configured device; a kind's sim model is imported here, only for the devices that ask. */
  async #createDevices(): Promise<void> {
    const libc = (): Kernel => (this.#kernel ??= new LibcKernel());
    for (const d of this.config.devices) {
      if (this.#o.only !== undefined && d.id !== this.#o.only) continue;
      const kind = this.#o.registry.get(d.kind);
      if (!kind) throw new Error(`device ${d.id}: kind '${d.kind}' is not registered`);
      this.devices.set(
        d.id,
        await DeviceRuntime.create({
          kind,
          config: d,
          libc,
          log: this.log,
          stateDir: this.config.node.stateDir,
          hooks: this.#hooks,
          reopenMinMs: 500,
          reopenMaxMs: 10_000,
          ...(Object.prototype.hasOwnProperty.call(this.config.security.rawIoctl, d.id)
            ? { rawIoctl: this.config.security.rawIoctl[d.id] }
            : {}),
        }),
      );
    }
  }

  #createDispatcher(): Dispatcher {
    const c = this.config;
    return new Dispatcher({
      topics: this.topics,
      devices: this.devices,
      ...(this.#journal ? { journal: this.#journal } : {}),
      limiter: new RateLimiter(c.security.rateLimitPerS, c.security.rateLimitBurst),
      maxPayloadBytes: c.security.maxPayloadBytes,
      log: this.log,
      node: {
        node: c.node.id,
        version: version(),
        startedAt: this.#startedAt,
        devices: this.devices,
        groups: c.node.groups,
        describe: () => ({ node: c.node.id, version: version(), groups: c.node.groups, devices: this.#describe() }),
      },
      publish: (r, reply, encoded, delivered) => this.#publishResult(r, reply, encoded, delivered),
      progress: (id, data) => this.#hooks.event(id, 'progress', data),
    });
  }

  #describe(): unknown[] {
    return [...this.devices.values()].map((d) => ({
      id: d.id,
      kind: d.kind.kind,
      title: d.kind.title,
      name: d.config.name,
      sim: d.config.sim,
      available: d.online,
      commands: Object.fromEntries(
        Object.entries(commandsOf(d)).map(([n, spec]) => [
          n,
          { description: spec.description, timeoutMs: spec.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, args: spec.args.describe() },
        ]),
      ),
      events: d.kind.events ?? {},
    }));
  }

  #publishResult(result: CommandResult, reply: Reply, payload: string, delivered?: () => void): void {
    const t = this.#transport;
    if (!t) return;
    const qos = this.config.mqtt.qos as 0 | 1 | 2;
    const warn = (e: unknown): void => this.log.warn({ err: (e as Error).message, id: result.id }, 'result publish failed');
    t.publish(reply.topic, payload, { qos }).then(delivered, warn);
    if (reply.responseTopic && t.protocolVersion === 5) {
      t.publish(reply.responseTopic, payload, { qos, ...(reply.correlationData ? { correlationData: reply.correlationData } : {}) }).catch(
        warn,
      );
    }
  }

  async #connect(): Promise<void> {
    const c = this.config;
    let url = c.mqtt.url;
    let protocolVersion = c.mqtt.protocolVersion as 3 | 4 | 5;
    if (c.mqtt.url === 'embedded' || c.broker.enabled) {
      // aedes is loaded only when this agent hosts the broker.
      const { startEmbeddedBroker } = await import('../transport/embedded.js');
      this.#broker = await startEmbeddedBroker(
        { host: c.broker.host, port: c.broker.port, username: c.broker.auth.username, passwordFile: c.broker.auth.passwordFile },
        this.log,
      );
    }
    if (c.mqtt.url === 'embedded') {
      const host = this.#broker?.host.includes(':') ? `[${this.#broker.host}]` : this.#broker?.host;
      url = `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.#broker?.port}`;
      if (protocolVersion === 5) {
        this.log.info('the embedded broker speaks MQTT 3.1.1: connecting with 3.1.1');
        protocolVersion = 4;
      }
    }
    // Our own embedded broker with broker.auth: log in as that user unless mqtt.* names another.
    const ownBroker = c.mqtt.url === 'embedded' && !c.mqtt.username && c.broker.auth.username !== '';
    const username = ownBroker ? c.broker.auth.username : c.mqtt.username;
    const passwordFile = ownBroker ? c.broker.auth.passwordFile : c.mqtt.passwordFile;
    const password = (ownBroker ? '' : c.mqtt.password) || (passwordFile ? readSecretFile(passwordFile) : '');
    const transport = new MqttTransport(
      {
        url,
        clientId: c.mqtt.clientId,
        username,
        password,
        ca: c.mqtt.ca,
        cert: c.mqtt.cert,
        key: c.mqtt.key,
        rejectUnauthorized: c.mqtt.rejectUnauthorized,
        protocolVersion,
        keepaliveS: c.mqtt.keepaliveS,
        sessionExpiryS: c.mqtt.sessionExpiryS,
        reconnectMinMs: c.mqtt.reconnectMinMs,
        reconnectMaxMs: c.mqtt.reconnectMaxMs,
        connectTimeoutMs: c.mqtt.connectTimeoutMs,
        will: { topic: nodeTopic(this.topics, 'status'), payload: 'offline' },
      },
      this.log,
    );
    this.#transport = transport;
    this.#telemetry = new Telemetry({
      transport,
      topics: this.topics,
      qos: c.mqtt.qos as 0 | 1 | 2,
      devices: this.devices,
      version: version(),
      intervalMs: c.telemetry.intervalMs,
      throttleMs: c.telemetry.stateThrottleMs,
      log: this.log,
      stats: () => ({ ...this.dispatcher.stats }),
    });
    this.#telemetry.start();
    this.#discovery = this.#createDiscovery(transport);
    transport.start({
      message: (m) => {
        if (this.#stopping) return;
        if (this.#discovery?.handles(m.topic)) {
          this.#discovery.onMessage(m);
          return;
        }
        // A persistent session delivers what waited for us before #onConnected runs: what the
        // previous run accepted goes into the device queues first, so commands keep their order.
        this.#finishPreviousRun();
        this.dispatcher.handle(m);
      },
      connected: () => void this.#onConnected(),
      disconnected: (reason) => this.log.warn({ reason }, 'disconnected from broker; reconnecting'),
    });
  }

  /** Home Assistant discovery; also built when disabled, to clear what an earlier run published. */
  #createDiscovery(transport: Transport): DiscoveryPublisher {
    const c = this.config;
    const ha = c.homeassistant;
    return new DiscoveryPublisher({
      transport,
      settings: ha.enabled
        ? { prefix: ha.discoveryPrefix, topics: this.topics, version: version(), qos: c.mqtt.qos as 0 | 1 | 2 }
        : undefined,
      statusTopic: ha.statusTopic,
      devices: () =>
        [...this.devices.values()].map((d) => ({
          id: d.id,
          name: d.config.name,
          sim: d.config.sim,
          options: d.config.options,
          kind: d.kind,
        })),
      stateDir: c.node.stateDir,
      log: this.log.child({ feature: 'homeassistant' }),
    });
  }

  async #onConnected(): Promise<void> {
    const t = this.#transport;
    if (!t || this.#stopping) return;
    try {
      const haStatus = this.#discovery?.subscription;
      await t.subscribe([...commandSubscriptions(this.topics), ...(haStatus ? [haStatus] : [])], this.config.mqtt.qos as 0 | 1 | 2);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'subscribe failed');
      return;
    }
    await t.publish(nodeTopic(this.topics, 'status'), 'online', { qos: 1, retain: true }).catch(() => undefined);
    this.#telemetry?.announce();
    void this.#discovery?.announce();
    this.#o.onOnline?.();
    if (!this.#announcedOnline) {
      this.#announcedOnline = true;
      for (const w of this.#onlineWaiters.splice(0)) w();
    }
    this.#finishPreviousRun();
  }

  /** Once, at the first connect or message: what the journal says the previous process left undone. */
  #finishPreviousRun(): void {
    const r = this.#recovery;
    this.#recovery = undefined;
    if (r) finishPreviousRun(r, this.dispatcher, this.log);
  }

  /** For tests: the retained topics of a device. */
  deviceTopic(id: string, leaf: 'state' | 'availability' | 'event' | 'result'): string {
    return deviceTopic(this.topics, id, leaf);
  }
}
