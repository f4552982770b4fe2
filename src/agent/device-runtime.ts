/**
 * One configured device at run time: its kind's instance, its command queue,
 * and its availability. A device that cannot be opened, or reports itself
 * lost, goes offline and is reopened with jittered exponential backoff until
 * it is back; commands meanwhile get `unavailable`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import type { ResolvedDevice } from '../config/load.js';
import { createDevice, type ContextBase } from '../devices/context.js';
import type { AnyKind, Device } from '../devices/kind.js';
import type { Kernel } from '../kernel/kernel.js';
import { Polls } from './polls.js';
import { CommandQueue, type Job, type Outcome } from './queue.js';
import { RawIoctl } from './raw-ioctl.js';

export interface RuntimeHooks {
  event(device: string, type: string, data: Record<string, unknown>): void;
  stateChanged(device: string): void;
  availability(device: string, online: boolean, reason?: string): void;
}

export interface RuntimeOptions {
  readonly kind: AnyKind;
  readonly config: ResolvedDevice;
  readonly libc: () => Kernel;
  readonly log: Logger;
  /** node.stateDir; the device gets `devices/{id}` under it. */
  readonly stateDir: string;
  readonly hooks: RuntimeHooks;
  readonly reopenMinMs: number;
  readonly reopenMaxMs: number;
  /** security.rawIoctl for this device: the request names it may pass through. */
  readonly rawIoctl?: readonly string[];
}

/** A job running longer than this shows up as `busy` in the device state. */
const BUSY_AFTER_MS = 500;

export class DeviceRuntime {
  readonly id: string;
  readonly kind: AnyKind;
  readonly config: ResolvedDevice;
  readonly queue: CommandQueue;
  readonly log: Logger;
  /** The raw ioctl passthrough, when security.rawIoctl lists requests for this device. */
  rawIoctl: RawIoctl | undefined;
  #device: Device | undefined;
  readonly #polls: Polls;
  readonly #hooks: RuntimeHooks;
  readonly #abort = new AbortController();
  readonly #opts: RuntimeOptions;
  #online = false;
  /** What availability topic last said; undefined until the first open attempt. */
  #announced: boolean | undefined;
  #stopped = false;
  #attempt = 0;
  #reopenTimer: NodeJS.Timeout | undefined;
  #busyTimer: NodeJS.Timeout | undefined;
  #busy: { command: string; since: number } | undefined;
  #lastReason = '';

  /** A runtime with its device made (the kind's sim imported, when the device asks for one). */
  static async create(opts: RuntimeOptions): Promise<DeviceRuntime> {
    const rt = new DeviceRuntime(opts);
    await rt.#createDevice();
    return rt;
  }

  private constructor(opts: RuntimeOptions) {
    this.#opts = opts;
    this.id = opts.config.id;
    this.kind = opts.kind;
    this.config = opts.config;
    this.#hooks = opts.hooks;
    this.log = opts.log.child({ device: this.id, kind: this.kind.kind });
    this.queue = new CommandQueue({
      available: () => this.#online,
      now: () => performance.now(),
      busyChanged: (running) => this.#busyChanged(running),
    });
    this.#polls = new Polls({
      run: (label, work, timeoutMs) => this.#run(label, work, timeoutMs),
      active: () => this.#online && !this.#stopped,
      idle: () => !this.queue.running && this.queue.length === 0,
      log: this.log,
    });
  }

  async #createDevice(): Promise<void> {
    const stateDir = path.join(this.#opts.stateDir, 'devices', this.id);
    mkdirSync(stateDir, { recursive: true });
    const base: ContextBase = {
      id: this.id,
      name: this.config.name,
      kind: this.kind.kind,
      options: this.config.options,
      sim: this.config.sim,
      log: this.log,
      stateDir,
      signal: this.#abort.signal,
      emit: (type, data = {}) => this.#hooks.event(this.id, type, data),
      stateChanged: () => this.#hooks.stateChanged(this.id),
      lost: (reason) => this.lost(reason),
      enqueue: (label, work, timeoutMs) => this.enqueue(label, work, timeoutMs),
      poll: (label, everyMs, work, pollOpts) => this.#polls.add(label, everyMs, work, pollOpts),
    };
    const { ctx, device } = await createDevice(this.kind, base, this.#opts.libc);
    this.#device = device;
    const raw = this.#opts.rawIoctl;
    if (!raw?.length) return;
    if (typeof device.rawFile !== 'function') {
      throw new Error(`security.rawIoctl.${this.id}: ${this.kind.kind} devices have no device file to pass ioctls to`);
    }
    this.rawIoctl = new RawIoctl(this.id, raw, ctx.kernel.arch);
  }

  get online(): boolean {
    return this.#online;
  }

  /** Whether the first open attempt is over (it announced online or offline). */
  get started(): boolean {
    return this.#announced !== undefined;
  }

  get device(): Device {
    if (!this.#device) throw new Error(`${this.id}: the device is not made yet`);
    return this.#device;
  }

  /** Opens the device; a failure leaves it offline and retrying, never fails the agent. */
  async start(): Promise<void> {
    await this.#open();
  }

  /** The kind's state, plus `busy` while a long command holds the device. */
  state(): Record<string, unknown> {
    let s: Record<string, unknown>;
    try {
      s = this.device.state();
    } catch (e) {
      s = { error: (e as Error).message };
    }
    // A kind that reports its own `busy` knows better (the step inside a batch, not "batch").
    if (!this.#busy || 'busy' in s) return s;
    return { ...s, busy: { command: this.#busy.command, sinceMs: Math.round(performance.now() - this.#busy.since) } };
  }

  submit(job: Job): void {
    this.queue.push(job);
  }

  enqueue<T>(label: string, work: (signal: AbortSignal) => Promise<T>, timeoutMs = 30_000): Promise<T> {
    return this.#run(label, work, timeoutMs).then((o) => {
      if (o.ok) return o.value as T;
      throw Object.assign(new Error(o.error.message), { body: o.error });
    });
  }

  /** Runs work in the queue; resolves with its outcome (the queue's error body on failure). */
  #run(label: string, work: (signal: AbortSignal) => Promise<unknown>, timeoutMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.queue.push({
        id: `${label}-${Date.now().toString(36)}`,
        label,
        timeoutMs,
        run: (abort) => work(abort.signal),
        settle: resolve,
      });
    });
  }

  /** The device went away: offline now, closed, reopened with backoff. */
  lost(reason: Error): void {
    if (this.#stopped) return;
    this.log.warn({ err: reason.message }, 'device lost');
    this.#setOnline(false, reason.message);
    void this.#closeQuietly().then(() => this.#scheduleReopen());
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reopenTimer);
    clearTimeout(this.#busyTimer);
    this.#abort.abort(new Error('agent stopping'));
    await this.queue.close(graceMs);
    await this.#closeQuietly();
  }

  async #open(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.device.open();
      this.#attempt = 0;
      this.#setOnline(true);
    } catch (e) {
      const reason = (e as Error).message;
      if (reason !== this.#lastReason) this.log.warn({ err: reason }, 'device cannot be opened; retrying with backoff');
      this.#lastReason = reason;
      this.#setOnline(false, reason);
      await this.#closeQuietly();
      this.#scheduleReopen();
    }
  }

  #scheduleReopen(): void {
    if (this.#stopped || this.#reopenTimer) return;
    const delay = backoffDelayMs(this.#opts.reopenMinMs, this.#opts.reopenMaxMs, this.#attempt++);
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = undefined;
      void this.#open();
    }, delay);
    this.#reopenTimer.unref?.();
  }

  async #closeQuietly(): Promise<void> {
    // A closed device polls nothing: its polls end with it (a reopen starts them again).
    this.#polls.stopAll();
    try {
      await this.#device?.close();
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'close failed');
    }
  }

  #setOnline(online: boolean, reason?: string): void {
    this.#online = online;
    if (online) this.#lastReason = '';
    if (this.#announced === online) return;
    this.#announced = online;
    this.#hooks.availability(this.id, online, reason);
    this.#hooks.stateChanged(this.id);
  }

  #busyChanged(running: { label: string; since: number } | undefined): void {
    clearTimeout(this.#busyTimer);
    if (running) {
      this.#busyTimer = setTimeout(() => {
        this.#busy = { command: running.label, since: running.since };
        this.#hooks.stateChanged(this.id);
      }, BUSY_AFTER_MS);
      this.#busyTimer.unref?.();
    } else if (this.#busy) {
      this.#busy = undefined;
      this.#hooks.stateChanged(this.id);
    }
  }
}
