/**
 * Everything the agent publishes besides results: node status and state, the
 * devices self-description, device state (retained, on change — throttled —
 * and every telemetry.intervalMs), availability and events.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { Transport } from '../transport/transport.js';
import type { CommandSpec, Device } from '../devices/kind.js';
import type { DeviceRuntime } from './device-runtime.js';
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
}

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

  constructor(o: TelemetryOptions) {
    this.#o = o;
  }

  start(): void {
    this.#interval = setInterval(() => this.refresh(), this.#o.intervalMs);
    this.#interval.unref?.();
  }

  stop(): void {
    clearInterval(this.#interval);
    for (const s of this.#slots.values()) clearTimeout(s.timer);
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

  nodeState(): Record<string, unknown> {
    const mem = process.memoryUsage();
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
      broker: this.#o.transport.server,
      ts: Date.now(),
    };
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
    this.#publish(deviceTopic(this.#o.topics, id, 'event'), json({ ...data, type, ts: Date.now() }), false);
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
    const text = json(d.state());
    if (!force && text === slot.lastJson) return;
    slot.lastJson = text;
    slot.lastAt = performance.now();
    this.#publish(deviceTopic(this.#o.topics, id, 'state'), text, true);
  }

  #publish(topic: string, payload: string, retain: boolean): void {
    // While offline, retained topics are re-announced on reconnect; do not pile them up meanwhile.
    if (retain && !this.#o.transport.connected) return;
    this.#o.transport.publish(topic, payload, { qos: this.#o.qos, retain }).catch((e: unknown) => {
      this.#o.log.debug({ topic, err: (e as Error).message }, 'publish failed');
    });
  }
}
