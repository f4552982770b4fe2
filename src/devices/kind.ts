/**
 * The device-kind plug-in interface. A kind is a plain object that carries
 * everything the rest of the agent asks of it: its options schema, its
 * commands (argument schema, timeout, handler), the events it may publish,
 * its Home Assistant entities, what the systemd sandbox must open for it,
 * what `probe` finds of it on a machine (and the starter config for that),
 * its sim model (loaded only for a device that asks), and a factory for
 * device instances. Nothing outside a kind's folder names it: the sandbox,
 * probe, the CLI and Home Assistant iterate over the registered kinds. The
 * registry maps kind names to kinds; `plugins` in the config adds kinds from
 * module paths with the same powers (see examples/ and docs/writing-a-kind.md).
 */
import type { Logger } from 'pino';
import type { DeviceFile, Kernel } from '../kernel/kernel.js';
import type { Sysfs } from '../kernel/sysfs.js';
import type { HaDeviceInfo, HaEntity } from '../homeassistant/entities.js';
import type { Schema } from '../schema/schema.js';
import type { ErrorBody } from './errors.js';

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

/** Periodic work of a device (see DeviceContext.poll). */
export interface PollOptions {
  /** Also run once right after the current turn (after open() has returned), not only every `everyMs`. */
  readonly now?: boolean;
  /** How long one run may wait in the queue and run (default 30 s): `busy` or `timeout` past it. */
  readonly timeoutMs?: number;
  /** Skip a tick while a command holds the device, instead of queueing behind it (a tape status behind a rewind). */
  readonly idleOnly?: boolean;
  /**
   * Told each failed run's error as the contract's error body: `busy` (queued behind
   * a long command), `timeout`, `device_error` with its errno … Without it the
   * failure is logged (warn when the error changes, debug when it repeats).
   */
  onError?(error: ErrorBody): void;
  /** Told each successful run's value. */
  onResult?(value: unknown): void;
}

export interface Poll {
  stop(): void;
}

export interface DeviceContext<O> {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly options: O;
  readonly sim: boolean;
  /** The real kernel (device nodes, ioctls), or the kind's sim model when `sim: true`. Made on first use. */
  readonly kernel: Kernel;
  /**
   * sysfs as this device sees it: rooted at its `sysfsRoot` option (default
   * `/sys`), or the kind's sim tree when `sim: true`. Made on first use.
   */
  readonly sysfs: Sysfs;
  /** procfs likewise: its `procRoot` option (default `/proc`), or the sim's tree. */
  readonly procfs: Sysfs;
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
  /** Runs work in this device's command queue, so it never interleaves with commands. */
  enqueue<T>(label: string, work: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T>;
  /**
   * Runs `work` every `everyMs` through the device's command queue (never
   * beside a command), while the device is online; a run still queued or
   * running is not queued again. Started in open(), a poll ends when the
   * device closes (or at `stop()`), so a reopen starts it afresh.
   */
  poll(label: string, everyMs: number, work: (signal: AbortSignal) => Promise<unknown>, opts?: PollOptions): Poll;
}

/** What a sim model is given: the device's context without the kernel and trees it is about to provide. */
export type SimContext<O> = Omit<DeviceContext<O>, 'kernel' | 'sysfs' | 'procfs' | 'poll'>;

/** What a kind's sim puts in place of the real kernel; what it leaves out stays real. */
export interface SimParts {
  readonly kernel?: Kernel;
  readonly sysfs?: Sysfs;
  readonly procfs?: Sysfs;
}

/** What the systemd drop-in must open for one real device (src/deploy/sandbox.ts renders it). */
export interface SandboxNeeds {
  /** DeviceAllow= entries: `/dev/nst0 rw`, `char-ttyUSB rw`. */
  readonly deviceAllow?: readonly string[];
  /** ReadWritePaths= entries (a leading `-`: may be missing at start). */
  readonly readWritePaths?: readonly string[];
  /** Supplementary groups the files belong to on a Raspberry Pi (gpio, dialout …). */
  readonly groups?: readonly string[];
  /** Comment lines for the drop-in: what it cannot cover, or should not. */
  readonly notes?: readonly string[];
}

export interface SandboxHost {
  /** A path with every link resolved on this machine, undefined when it does not exist. */
  resolve(p: string): string | undefined;
}

/** Where `dev2mqtt probe` looks, and where it reports what it could not read. */
export interface ProbeHost {
  /** sysfs (`--sys-root`). */
  readonly sysfs: Sysfs;
  /** procfs (`--proc-root`). */
  readonly procfs: Sysfs;
  /** The device nodes (`--dev-root`), through the same reader. */
  readonly dev: Sysfs;
  /** The kernel device nodes are asked through (tests: a sim). */
  kernel(): Kernel;
  problem(text: string): void;
}

/** One device of the starter config: `id` is made from `name` (a kernel name: `ACT`, `ttyUSB0`). */
export interface StarterDevice {
  readonly name: string;
  readonly title: string;
  readonly options: Record<string, unknown>;
}

export interface KindProbe<F> {
  /** The key of its findings in `probe --json` (`leds`, `gpiochips`). */
  readonly key: string;
  /** The heading of its section in the listing: `LEDs (/sys/class/leds)`. */
  heading(host: ProbeHost): string;
  /** What this machine has; unreadable items become host.problem() lines, never failures. */
  scan(host: ProbeHost): Promise<F[]>;
  /** The section's lines for a person (each indented by two spaces). */
  describe(found: readonly F[]): string[];
  /** The devices worth configuring at once; left out, the listing is all (GPIO lines: driving a guess can break things). */
  starter?(found: readonly F[], host: ProbeHost): StarterDevice[];
}

/** Helps TypeScript check a probe against its own findings type. */
export function defineProbe<F>(probe: KindProbe<F>): KindProbe<unknown> {
  return probe;
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
  /**
   * The sim model for a device with `sim: true`: its kernel and/or sysfs tree.
   * Import the model inside (`await import('./sim.js')`), so an agent whose
   * devices are all real never loads it.
   */
  sim?(ctx: SimContext<O>): Promise<SimParts>;
  create(ctx: DeviceContext<O>): D;
  homeassistant?(device: HaDeviceInfo<O>): HaEntity[];
  /** What a real device needs opened in the systemd sandbox; sim devices need nothing. */
  sandbox?(options: O, host: SandboxHost): SandboxNeeds;
  /** What `dev2mqtt probe` finds of this kind. */
  readonly probe?: KindProbe<unknown>;
}

/** Any kind, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kinds differ in O and D; the registry only routes.
export type AnyKind = DeviceKind<any, any>;

export function defineKind<O, D extends Device>(kind: DeviceKind<O, D>): DeviceKind<O, D> {
  return kind;
}
