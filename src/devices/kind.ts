/**
 * The device-kind plug-in interface. A kind is a plain object: its options
 * schema, its commands (argument schema, timeout, handler), the events it may
 * publish, its Home Assistant entities, an optional sim kernel model, and a
 * factory for device instances. The registry maps kind names to kinds;
 * `plugins` in the config adds kinds from module paths (see examples/).
 */
import type { Logger } from 'pino';
import type { DeviceFile, Kernel } from '../kernel/kernel.js';
import type { HaDeclaration, HaDeviceInfo, HaEntity } from '../homeassistant/entities.js';
import type { Schema } from '../schema/schema.js';

/** What a running command gets besides its arguments. */
export interface CommandContext {
  /** The command id (echoed in its result). */
  readonly id: string;
  /**
   * Aborted when the command's timeout passes or the agent shuts down. A handler
   * that cannot stop the kernel midway (a rewind) finishes anyway; one that can
   * clean up (pulse restoring its line) does so on abort.
   */
  readonly signal: AbortSignal;
  /**
   * The `timeoutMs` the command's payload asked for, when it did (the agent
   * takes that field out of the arguments to time the whole command). Handlers
   * with a wait of their own — `at` waiting for a final result code — use it
   * in place of their default.
   */
  readonly requestedTimeoutMs?: number;
  readonly log: Logger;
  /** Publishes a `progress` event for this command on the device's event topic (callers throttle). */
  progress(data: Record<string, unknown>): void;
}

/** A command's timeout when its kind names none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

export interface CommandSpec<D, A = unknown> {
  readonly description: string;
  readonly args: Schema<A>;
  /** Default timeout (else DEFAULT_COMMAND_TIMEOUT_MS); a command's `timeoutMs` argument overrides it. */
  readonly timeoutMs?: number;
  run(device: D, args: A, ctx: CommandContext): unknown;
}

/** Helps TypeScript infer A from the schema while D comes from the kind. */
export function command<D, A>(spec: CommandSpec<D, A>): CommandSpec<D, unknown> {
  return spec;
}

export interface DeviceContext<O> {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly options: O;
  readonly sim: boolean;
  /** The real kernel, or the kind's sim model when `sim: true`. */
  readonly kernel: Kernel;
  readonly log: Logger;
  /** A directory of this device's own under `node.stateDir` (sim media, caches). */
  readonly stateDir: string;
  /** Aborted when the agent stops: end background loops. */
  readonly signal: AbortSignal;
  /** Publishes `{type, ts, ...data}` on the device's event topic. */
  emit(type: string, data?: Record<string, unknown>): void;
  /** The state may have changed: republish it if it did. */
  stateChanged(): void;
  /**
   * The device file went away (unplugged, removed): the device goes offline,
   * is closed, and the agent reopens it with backoff until it is back.
   */
  lost(reason: Error): void;
  /** Runs work in this device's command queue, so it never interleaves with commands (state polls). */
  enqueue<T>(label: string, work: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T>;
}

export interface Device {
  /** Acquires the device. Throwing leaves it offline; the agent retries with backoff. */
  open(): Promise<void>;
  /** Releases it; called on shutdown and before a reopen. Must not throw for an already-closed device. */
  close(): Promise<void>;
  /** The state JSON published on `…/state` (kind-specific; cheap and synchronous). */
  state(): Record<string, unknown>;
  /**
   * The open device file that raw ioctls (security.rawIoctl) go to, for kinds
   * that hold one (gpio's line request, serial's tty, tape's st node);
   * undefined while it is closed. Kinds without a device file leave it out,
   * and the config cannot enable the passthrough for their devices.
   */
  rawFile?(): DeviceFile | undefined;
}

export interface DeviceKind<O = unknown, D extends Device = Device> {
  readonly kind: string;
  /** One line for `describe` and the docs. */
  readonly title: string;
  /** The options schema; with `sim` the path-like options may be left out. */
  options(sim: boolean): Schema<O>;
  readonly commands: Readonly<Record<string, CommandSpec<D, unknown>>>;
  /** Event types it may publish, with what they mean. */
  readonly events?: Readonly<Record<string, string>>;
  /** Configuration warnings that are not errors (a rewinding /dev/st0). */
  warnings?(options: O, sim: boolean): string[];
  /** The in-process kernel model used when `sim: true` (kinds without ioctls may keep their own sim). */
  simKernel?(ctx: Omit<DeviceContext<O>, 'kernel'>): Kernel;
  create(ctx: DeviceContext<O>): D;
  /**
   * Its Home Assistant entities, and what the hardware told about itself
   * (read from `device.state`); called again when the state changes, so what
   * the device reads at open (an LED's triggers, a modem's model) reaches HA.
   */
  homeassistant?(device: HaDeviceInfo<O>): HaEntity[] | HaDeclaration;
}

/** Any kind, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kinds differ in O and D; the registry only routes.
export type AnyKind = DeviceKind<any, any>;

export function defineKind<O, D extends Device>(kind: DeviceKind<O, D>): DeviceKind<O, D> {
  return kind;
}
