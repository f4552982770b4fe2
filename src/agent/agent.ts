/**
 * The agent: one node's devices, its MQTT connection and everything between.
 * No module-level state: several agents run in one process (tests, the fleet
 * benchmark), each with its own broker connection, journal and devices.
 */
import type { Logger } from 'pino';
import { makeDir } from '../make-dir.js';
import { brokerUrls, type AgentConfig } from '../config/load.js';
import type { KindRegistry } from '../devices/registry.js';
import type { HaHardware } from '../homeassistant/entities.js';
import { readNodeHardware } from '../homeassistant/node-hardware.js';
import { DiscoveryPublisher } from '../homeassistant/publisher.js';
import type { Kernel } from '../kernel/kernel.js';
import { LibcKernel } from '../kernel/libc.js';
import { FsSysfs } from '../kernel/sysfs-fs.js';
import type { EmbeddedBroker } from '../transport/embedded.js';
import { MqttTransport } from '../transport/mqtt.js';
import type { Transport } from '../transport/transport.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from '../devices/kind.js';
import type { LogOutput } from '../log-output.js';
import { readSecretFile } from '../secret-file.js';
import { version } from '../version.js';
import { CommandActivity } from './activity.js';
import { DeviceRuntime, type RuntimeHooks } from './device-runtime.js';
import { Dispatcher, type Reply } from './dispatcher.js';
import { CommandJournal, type JournalHealth } from './journal.js';
import { finishPreviousRun, reportRecovery, type Recovery } from './recovery.js';
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
  /** Index into the broker list of the first one to try (tests place agents on cluster nodes); default random. */
  readonly firstServer?: number;
  /** Where `log` writes, when its health is the node's to report (node state `log`, `logReason`, `logDropped`). */
  readonly logOutput?: LogOutput;
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
  readonly #activity = new CommandActivity();
  #kernel: Kernel | undefined;
  #broker: EmbeddedBroker | undefined;
  #transport: Transport | undefined;
  #telemetry: Telemetry | undefined;
  #discovery: DiscoveryPublisher | undefined;
  #dispatcher: Dispatcher | undefined;
  #journal: CommandJournal | undefined;
  /** What the previous run left unfinished (see journal.ts), handled once connected. */
  #recovery: Recovery | undefined;
  /** Found later, in a journal file start-up could not read (journal.ts onLateRecovery), while #recovery waited. */
  #lateRecoveries: Recovery[] = [];
  #finishedPreviousRun = false;
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

  /** The broker in use (of mqtt.servers: the cluster node), as node state names it. */
  get server(): string | undefined {
    return this.#transport?.server;
  }

  /** Resolves once `online` has been published after subscribing. */
  whenOnline(): Promise<void> {
    if (this.#announcedOnline) return Promise.resolve();
    return new Promise((resolve) => this.#onlineWaiters.push(resolve));
  }

  async start(): Promise<void> {
    const c = this.config;
    try {
      makeDir(c.node.stateDir);
    } catch (e) {
      // Devices that keep state there say so when they open; the agent serves the rest.
      this.log.warn({ err: (e as Error).message, stateDir: c.node.stateDir }, 'node.stateDir cannot be created');
    }
    const exec = this.#o.only !== undefined;
    if (!exec) {
      this.#journal = new CommandJournal(c.node.journalDir, c.security.dedupeWindow, {
        retryMaxMs: c.node.journalRetryMaxMs,
        onHealth: (h) => this.#journalHealthChanged(h),
        onLateRecovery: (r) => this.#lateRecovery(r),
      });
      this.#recovery = this.#journal.recover();
      reportRecovery(this.#recovery, this.log);
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
    this.#discovery?.stop();
    // Running commands get most of the budget; their results still go out.
    await Promise.all([...this.devices.values()].map((d) => d.stop(SHUTDOWN_MS - 1500)));
    // Only now: what the devices emitted while they stopped (a command's progress) is kept or counted too.
    this.#telemetry?.stop();
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

  /** Whether the command journal reaches its file, and why not (node state `journal`, `journalReason`). */
  get journalHealth(): JournalHealth | undefined {
    return this.#journal?.health;
  }

  /** Said once per change, never per command: a full disk must not flood the log too. */
  #journalHealthChanged(h: JournalHealth): void {
    if (h.state === 'degraded') this.log.warn({ journal: this.#journal?.file, errno: h.errno }, `command journal degraded: ${h.reason}`);
    else this.log.info({ journal: this.#journal?.file }, 'command journal written again: back to ok');
    this.#telemetry?.nodeChanged();
  }

  /**
   * For the crash policy (cli/crash-policy.ts): the journal flushed, `offline` published if the broker
   * can be reached, a clean disconnect, all within `ms`. Never throws; runs nothing else of stop().
   */
  async farewell(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    try {
      this.#journal?.close();
    } catch {
      // The journal never throws; a bug there must not keep the process from exiting either.
    }
    const t = this.#transport;
    if (!t?.connected) return false;
    const left = (): number => Math.max(50, deadline - performance.now());
    const published = await Promise.race([
      t.publish(nodeTopic(this.topics, 'status'), 'offline', { qos: 1, retain: true }).then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), left() / 2)),
    ]);
    await t.stop(left()).catch(() => undefined);
    return published;
  }

  /** What devices tell the agent; telemetry exists only once connected, so each hook looks it up. */
  readonly #hooks: RuntimeHooks = {
    event: (id, type, data) => {
      this.#o.onEvent?.(id, type, data);
      this.#telemetry?.event(id, type, data);
    },
    stateChanged: (id) => {
      this.#telemetry?.stateChanged(id);
      this.#discovery?.deviceChanged();
    },
    availability: (id, online, reason) => {
      if (!online && reason) this.log.debug({ device: id, reason }, 'device offline');
      this.#telemetry?.availability(id, online);
      this.#discovery?.deviceChanged();
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
        announce: () => this.#announce(),
      },
      publish: (r, reply, encoded, delivered) => this.#publishResult(r, reply, encoded, delivered),
      progress: (id, data) => this.#hooks.event(id, 'progress', data),
      answered: (r) => {
        this.#activity.record(r.device, r.command, r.error);
        if (!r.ok) this.#telemetry?.nodeStateChanged();
      },
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
    // Read before the broker connection: discovery is built with it once connected.
    const hardware = c.homeassistant.enabled
      ? await readNodeHardware({ sysfs: new FsSysfs('/sys'), procfs: new FsSysfs('/proc', { toEof: true }) })
      : {};
    const embedded = brokerUrls(c.mqtt)[0] === 'embedded';
    let servers = brokerUrls(c.mqtt);
    let protocolVersion = c.mqtt.protocolVersion as 3 | 4 | 5;
    if (embedded || c.broker.enabled) {
      // aedes is loaded only when this agent hosts the broker.
      const { startEmbeddedBroker } = await import('../transport/embedded.js');
      this.#broker = await startEmbeddedBroker(
        { host: c.broker.host, port: c.broker.port, username: c.broker.auth.username, passwordFile: c.broker.auth.passwordFile },
        this.log,
      );
    }
    if (embedded) {
      const host = this.#broker?.host.includes(':') ? `[${this.#broker.host}]` : this.#broker?.host;
      servers = [`mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.#broker?.port}`];
      if (protocolVersion === 5) {
        this.log.info('the embedded broker speaks MQTT 3.1.1: connecting with 3.1.1');
        protocolVersion = 4;
      }
    }
    // Our own embedded broker with broker.auth: log in as that user unless mqtt.* names another.
    const ownBroker = embedded && !c.mqtt.username && c.broker.auth.username !== '';
    const username = ownBroker ? c.broker.auth.username : c.mqtt.username;
    const passwordFile = ownBroker ? c.broker.auth.passwordFile : c.mqtt.passwordFile;
    const password = (ownBroker ? '' : c.mqtt.password) || (passwordFile ? readSecretFile(passwordFile) : '');
    const transport = new MqttTransport(
      {
        servers,
        ...(this.#o.firstServer !== undefined ? { firstServer: this.#o.firstServer } : {}),
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
        ackTimeoutMs: c.mqtt.ackTimeoutMs,
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
      journal: () => this.#journal?.health,
      ...(this.#o.logOutput ? { logOutput: this.#o.logOutput } : {}),
      activity: this.#activity,
      offlineBuffer: c.telemetry.offlineBuffer,
      stateDir: c.node.stateDir,
    });
    this.#telemetry.start();
    this.#discovery = this.#createDiscovery(transport, hardware);
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
      disconnected: (reason) => {
        this.#telemetry?.pause();
        this.log.warn({ reason, broker: transport.server }, 'disconnected from broker; reconnecting');
      },
    });
  }

  /** Home Assistant discovery; also built when disabled, to clear what an earlier run published. */
  #createDiscovery(transport: Transport, hardware: HaHardware): DiscoveryPublisher {
    const c = this.config;
    const ha = c.homeassistant;
    return new DiscoveryPublisher({
      transport,
      settings: ha.enabled
        ? {
            prefix: ha.discoveryPrefix,
            topics: this.topics,
            version: version(),
            qos: c.mqtt.qos as 0 | 1 | 2,
            form: ha.discovery,
            node: hardware,
          }
        : undefined,
      statusTopic: ha.statusTopic,
      devices: () =>
        [...this.devices.values()].map((d) => ({
          id: d.id,
          name: d.config.name,
          sim: d.config.sim,
          options: d.config.options,
          kind: d.kind,
          state: d.started ? d.state() : undefined,
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
      // Without its subscriptions the agent would look online and hear nothing. A cluster node refuses
      // them while it re-elects its leaders: try again, on the next node.
      t.reconnect(`subscribe failed: ${(e as Error).message}`);
      return;
    }
    await t.publish(nodeTopic(this.topics, 'status'), 'online', { qos: 1, retain: true }).catch(() => undefined);
    // What happened while away goes first, then the retained state: the last retained value is the current one.
    if (this.#telemetry && !(await this.#telemetry.resume())) return;
    this.#telemetry?.announce();
    // After each device's first open: what it read then (a model, an LED's triggers) is in its first config.
    void this.#discovery?.announceAfter(this.#devicesStarted);
    this.#o.onOnline?.();
    if (!this.#announcedOnline) {
      this.#announcedOnline = true;
      for (const w of this.#onlineWaiters.splice(0)) w();
    }
    this.#finishPreviousRun();
  }

  /** Node command `announce`: the retained topics and the discovery configs again. */
  async #announce(): Promise<{ discoveryConfigs: number }> {
    this.#telemetry?.announce();
    return { discoveryConfigs: (await this.#discovery?.announce()) ?? 0 };
  }

  /** Once, at the first connect or message: what the journal says the previous process left undone. */
  #finishPreviousRun(): void {
    const r = this.#recovery;
    this.#recovery = undefined;
    this.#finishedPreviousRun = true;
    for (const each of [...(r ? [r] : []), ...this.#lateRecoveries.splice(0)]) finishPreviousRun(each, this.dispatcher, this.log);
  }

  /** The previous run's journal, read at last: its leftovers are answered as start-up's are, after them. */
  #lateRecovery(r: Recovery): void {
    this.log.info({ journal: this.#journal?.file }, 'the command journal left unread at start could be read: merged');
    reportRecovery(r, this.log);
    if (this.#finishedPreviousRun) finishPreviousRun(r, this.dispatcher, this.log);
    else this.#lateRecoveries.push(r);
  }

  /** For tests: the retained topics of a device. */
  deviceTopic(id: string, leaf: 'state' | 'availability' | 'event' | 'result'): string {
    return deviceTopic(this.topics, id, leaf);
  }
}
