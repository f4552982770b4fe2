/**
 * Everything the agent publishes besides results: node status and state, the
 * devices self-description, device state (retained, on change — throttled —
 * and every telemetry.intervalMs), availability and events.
 *
 * While the broker link is down, events and state changes go to the offline
 * buffer with their original `ts` and `replayed: true`; `resume()` publishes
 * them, oldest first, when the link is back, and only then goes live, so
 * nothing new overtakes them. Replayed state changes are not retained: the
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
import { OfflineBuffer } from './offline-buffer.js';
import { SpillStore } from './offline-spill.js';
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

/** Replayed messages per turn: the PUBACKs of one batch are awaited before the next (the broker paces the replay). */
const REPLAY_BATCH = 256;

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
  readonly #buffer: OfflineBuffer;
  /** Publishing directly: connected, and the buffer replayed. */
  #live = false;
  /** Bumped by each resume and pause: a replay interrupted by a disconnect stops. */
  #generation = 0;
  /**
   * The replayed batch the broker has not yet confirmed all of. A replay the link cut short leaves it
   * in the outbox, which sends it again first on the next connection; the next replay waits for it
   * before it takes more, so the buffer's last batch is always what is not known to be published.
   */
  #unconfirmed: Promise<unknown> | undefined;

  constructor(o: TelemetryOptions) {
    this.#o = o;
    const b = o.offlineBuffer;
    this.#buffer = new OfflineBuffer(b, b.spill ? new SpillStore(o.stateDir, b.spillMaxBytes, o.log) : undefined);
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
    // Stopped while away or replaying: what is not known to be published survives to the next run when
    // there is a spill; what cannot be kept is said, never silently gone.
    if (this.#live) return;
    // A replay still running must not take what is now written for the next run.
    this.#generation++;
    const lost = this.#buffer.persist();
    if (!lost.size) return;
    const count = [...lost.values()].reduce((sum, span) => sum + span.count, 0);
    this.#o.log.warn(
      { lost: Object.fromEntries([...lost].map(([d, span]) => [d, span.count])), spill: this.#buffer.status().spill },
      `offline buffer: stopped with ${count} messages not published and nowhere to keep them; they are dropped`,
    );
  }

  /** The link is down: from now on events and state changes are kept. */
  pause(): void {
    this.#live = false;
    this.#generation++;
  }

  /**
   * The link is back: what was kept goes out, oldest first — the dropped
   * notice of each device that lost some, then the messages — and then
   * telemetry is live. False when the link dropped again before the end
   * (the rest waits for the next resume).
   */
  async resume(): Promise<boolean> {
    const generation = ++this.#generation;
    const t = this.#o.transport;
    const publish = (topic: string, payload: string): Promise<void> =>
      t.publish(topic, payload, { qos: this.#o.qos, retain: false }).catch((e: unknown) => {
        this.#o.log.debug({ topic, err: (e as Error).message }, 'replay publish failed');
      });
    const stale = (): boolean => generation !== this.#generation || !t.connected;
    for (;;) {
      if (stale()) return false;
      // Before each batch: what was lost before it, also while the replay runs (events keep coming).
      await this.#announceDropped(publish);
      if (stale()) return false;
      if (this.#unconfirmed) {
        await this.#unconfirmed;
        continue;
      }
      const batch = this.#buffer.take(REPLAY_BATCH);
      if (!batch.length) break;
      const confirmed = Promise.all(
        batch.map((m) =>
          t.publish(m.topic, m.payload, { qos: this.#o.qos, retain: false }).catch((e: unknown) => {
            // Refused for good (not a lost link: the outbox keeps those): counted, and said before the rest.
            this.#o.log.debug({ topic: m.topic, err: (e as Error).message }, 'replay publish failed');
            this.#buffer.lost(m);
          }),
        ),
      ).then(() => {
        if (this.#unconfirmed === confirmed) this.#unconfirmed = undefined;
        this.#buffer.published();
      });
      this.#unconfirmed = confirmed;
      await confirmed;
    }
    this.#live = true;
    return true;
  }

  /** One `dropped` event per device that lost messages since the last call. */
  async #announceDropped(publish: (topic: string, payload: string) => Promise<void>): Promise<void> {
    const dropped = this.#buffer.takeDropped();
    if (!dropped.size) return;
    this.#o.log.warn({ dropped: Object.fromEntries([...dropped].map(([d, s]) => [d, s.count])) }, 'offline buffer overflowed');
    await Promise.all(
      [...dropped].map(([device, span]) =>
        publish(
          deviceTopic(this.#o.topics, device, 'event'),
          json({ type: 'dropped', count: span.count, firstTs: span.firstTs, lastTs: span.lastTs, ts: span.firstTs, replayed: true }),
        ),
      ),
    );
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
      offlineBuffer: this.#buffer.status(),
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
    if (this.#sending()) this.#publish(topic, json({ ...data, type, ts }), false);
    else this.#buffer.push({ topic, payload: json({ ...data, type, ts, replayed: true }), device: id, ts });
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
      this.#buffer.push({ topic, payload: json({ ts, ...state, replayed: true }), device: id, ts });
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
