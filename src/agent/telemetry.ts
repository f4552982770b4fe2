/**
 * Everything the agent publishes besides results: node status and state, the
 * devices self-description, device state (retained, on change — throttled —
 * and every telemetry.intervalMs), availability and events.
 *
 * While the broker link is down, events and state changes go to the offline
 * buffer with their original `ts` and `replayed: true`; `resume()` publishes
 * them (offline-replay.ts), oldest first, when the link is back, and only
 * then goes live, so nothing new overtakes them. Replayed state changes are not retained: the
 * retained state that follows (`announce()`) is the current one.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { Transport } from '../transport/transport.js';
import type { CommandSpec, Device } from '../devices/kind.js';
import type { CommandActivity } from './activity.js';
import type { DeviceRuntime } from './device-runtime.js';
import type { LogOutput } from '../log-output.js';
import type { JournalHealth } from './journal.js';
import { OfflineReplay } from './offline-replay.js';
import { RAW_IOCTL_COMMAND } from './raw-ioctl.js';
import { jsonWithBigInts as json } from './result.js';
import { deviceTopic, nodeTopic, type TopicScheme } from './topics.js';

export interface TelemetryOptions {
  readonly transport: Transport;
  readonly topics: TopicScheme;
  readonly qos: 0 | 1 | 2;
  readonly devices: ReadonlyMap<string, DeviceRuntime>;
  readonly version: string;
  readonly intervalMs: number;
  readonly throttleMs: number;
  readonly log: Logger;
  /** Counters for the node state. */
  readonly stats: () => Record<string, number>;
  /** The command journal's health, when there is a journal. */
  readonly journal?: () => JournalHealth | undefined;
  /** Where the log goes, when a full or failing disk under it is the node's to report. */
  readonly logOutput?: LogOutput;
  /** Commands per minute and the last error, for the node state. */
  readonly activity?: CommandActivity;
  readonly offlineBuffer: {
    readonly maxMessages: number;
    readonly maxBytes: number;
    readonly spill: boolean;
    readonly spillMaxBytes: number;
  };
  /** Where the spill files go (node.stateDir). */
  readonly stateDir: string;
}

/** A failed command republishes the node state (its last error) at most this often. */
const NODE_STATE_MIN_MS = 1000;

interface DeviceSlot {
  lastJson?: string;
  lastAt: number;
  timer?: NodeJS.Timeout;
}

/** A device's commands as senders see them: its kind's, and `ioctl` where security.rawIoctl enables it. */
export function commandsOf(d: DeviceRuntime): Readonly<Record<string, CommandSpec<Device, unknown>>> {
  return d.rawIoctl && !Object.prototype.hasOwnProperty.call(d.kind.commands, RAW_IOCTL_COMMAND)
    ? { ...d.kind.commands, [RAW_IOCTL_COMMAND]: d.rawIoctl.spec }
    : d.kind.commands;
}

export class Telemetry {
  readonly #o: TelemetryOptions;
  readonly #slots = new Map<string, DeviceSlot>();
  readonly #startedAt = Date.now();
  #interval: NodeJS.Timeout | undefined;
  #nodeTimer: NodeJS.Timeout | undefined;
  #unlistenLog: (() => void) | undefined;
  readonly #replay: OfflineReplay;
  /** Publishing directly: connected, and the buffer replayed. */
  #live = false;

  constructor(o: TelemetryOptions) {
    this.#o = o;
    this.#replay = new OfflineReplay({
      transport: o.transport,
      qos: o.qos,
      log: o.log,
      limits: o.offlineBuffer,
      stateDir: o.stateDir,
      eventTopic: (device) => deviceTopic(o.topics, device, 'event'),
    });
  }

  start(): void {
    this.#interval = setInterval(() => this.refresh(), this.#o.intervalMs);
    this.#interval.unref?.();
    // Heard inside a log write: published from a timer, never from within it.
    this.#unlistenLog = this.#o.logOutput?.onHealth(() => this.nodeStateChanged());
  }

  stop(): void {
    clearInterval(this.#interval);
    clearTimeout(this.#nodeTimer);
    this.#unlistenLog?.();
    for (const s of this.#slots.values()) clearTimeout(s.timer);
    // Stopped while away or replaying: what is not yet published is kept for the next run, or said lost.
    if (!this.#live) this.#replay.stop();
  }

  /** The link is down: from now on events and state changes are kept. */
  pause(): void {
    this.#live = false;
    this.#replay.pause();
  }

  /**
   * The link is back: what was kept goes out, oldest first — the dropped
   * notice of each device that lost some, then the messages — and then
   * telemetry is live. False when the link dropped again before the end
   * (the rest waits for the next resume).
   */
  async resume(): Promise<boolean> {
    if (!(await this.#replay.replay())) return false;
    this.#live = true;
    return true;
  }

  /** After every (re)connect: all retained topics again, so a restarted broker is whole. */
  announce(): void {
    this.#publish(nodeTopic(this.#o.topics, 'devices'), json(this.describeDevices()), true);
    this.#publishNodeState();
    for (const [id, d] of this.#o.devices) {
      // A device still opening announces itself when its first attempt ends.
      if (!d.started) continue;
      this.#publishAvailability(id, d.online);
      this.#publishState(id, true);
    }
  }

  refresh(): void {
    this.#publishNodeState();
    for (const id of this.#o.devices.keys()) this.#publishState(id, true);
  }

  /** Something in the node state changed that should not wait for the next interval. */
  nodeChanged(): void {
    this.#publishNodeState();
  }

  nodeState(): Record<string, unknown> {
    const mem = process.memoryUsage();
    const journal = this.#o.journal?.();
    const logged = this.#o.logOutput?.health;
    return {
      node: this.#o.topics.node,
      version: this.#o.version,
      uptimeS: Math.round((Date.now() - this.#startedAt) / 1000),
      devices: [...this.#o.devices.keys()],
      online: [...this.#o.devices.values()].filter((d) => d.online).map((d) => d.id),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      load: os.loadavg().map((l) => Math.round(l * 100) / 100),
      commands: this.#o.stats(),
      ...(journal ? { journal: journal.state, ...(journal.reason ? { journalReason: journal.reason } : {}) } : {}),
      ...(logged
        ? { log: logged.state, ...(logged.state === 'degraded' ? { logReason: logged.reason, logDropped: logged.dropped } : {}) }
        : {}),
      ...(this.#o.activity ? { commandsPerMinute: this.#o.activity.perMinute(), lastError: this.#o.activity.lastError } : {}),
      broker: this.#o.transport.server,
      offlineBuffer: this.#replay.status(),
      ts: Date.now(),
    };
  }

  /** Something in the node state changed that readers want soon (a new last error): republish it, throttled. */
  nodeStateChanged(): void {
    if (this.#nodeTimer) return;
    this.#nodeTimer = setTimeout(() => {
      this.#nodeTimer = undefined;
      this.#publishNodeState();
    }, NODE_STATE_MIN_MS);
    this.#nodeTimer.unref?.();
  }

  /** The `{base}/{node}/devices` payload: each device and its commands' arguments. */
  describeDevices(): Array<Record<string, unknown>> {
    return [...this.#o.devices.values()].map((d) => ({
      id: d.id,
      kind: d.kind.kind,
      name: d.config.name,
      sim: d.config.sim,
      commands: Object.fromEntries(
        Object.entries(commandsOf(d)).map(([name, spec]) => {
          const desc = spec.args.describe();
          return [name, (desc.properties as Record<string, unknown> | undefined) ?? {}];
        }),
      ),
    }));
  }

  stateChanged(id: string): void {
    const slot = this.#slot(id);
    const wait = this.#o.throttleMs - (performance.now() - slot.lastAt);
    if (wait <= 0) {
      this.#publishState(id, false);
      return;
    }
    slot.timer ??= setTimeout(() => {
      slot.timer = undefined;
      this.#publishState(id, false);
    }, wait);
  }

  availability(id: string, online: boolean): void {
    this.#publishAvailability(id, online);
  }

  event(id: string, type: string, data: Record<string, unknown>): void {
    const topic = deviceTopic(this.#o.topics, id, 'event');
    const ts = Date.now();
    if (this.#sending()) this.#replay.publishLive({ topic, payload: json({ ...data, type, ts }), device: id, ts });
    else this.#replay.keep({ topic, payload: json({ ...data, type, ts, replayed: true }), device: id, ts });
  }

  #sending(): boolean {
    return this.#live && this.#o.transport.connected;
  }

  #slot(id: string): DeviceSlot {
    let s = this.#slots.get(id);
    if (!s) this.#slots.set(id, (s = { lastAt: -Infinity }));
    return s;
  }

  #publishNodeState(): void {
    this.#publish(nodeTopic(this.#o.topics, 'state'), json(this.nodeState()), true);
  }

  #publishAvailability(id: string, online: boolean): void {
    this.#publish(deviceTopic(this.#o.topics, id, 'availability'), online ? 'online' : 'offline', true);
  }

  #publishState(id: string, force: boolean): void {
    const d = this.#o.devices.get(id);
    if (!d) return;
    const slot = this.#slot(id);
    const state = d.state();
    const text = json(state);
    if (!force && text === slot.lastJson) return;
    slot.lastJson = text;
    slot.lastAt = performance.now();
    const topic = deviceTopic(this.#o.topics, id, 'state');
    if (this.#sending()) this.#publish(topic, text, true);
    else if (!force) {
      // A change seen while away, kept in order with the events; a state that has its own ts keeps it.
      const ts = Date.now();
      this.#replay.keep({ topic, payload: json({ ts, ...state, replayed: true }), device: id, ts });
    }
  }

  #publish(topic: string, payload: string, retain: boolean): void {
    // While offline, retained topics are re-announced on reconnect; do not pile them up meanwhile.
    if (retain && !this.#o.transport.connected) return;
    this.#o.transport.publish(topic, payload, { qos: this.#o.qos, retain }).catch((e: unknown) => {
      this.#o.log.debug({ topic, err: (e as Error).message }, 'publish failed');
    });
  }
}
