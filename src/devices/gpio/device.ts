/**
 * One GPIO line as a device: the state it publishes, set/pulse/get, edge
 * events on the event topic, and a poll for inputs whose events do not tell
 * every change (no edge detection, or one edge only).
 * Which kernel interface holds the line is the backend's business.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceFile } from '../../kernel/kernel.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { CommandError, isDisconnect } from '../errors.js';
import type { GpioBackend, GpioOptions, LineEvents } from './backend.js';
import type { EdgeEvent } from './uapi.js';

export interface LastEdge {
  readonly edge: 'rising' | 'falling';
  readonly timestampNs: string;
  readonly seqno: number;
}

export class GpioDevice implements Device, LineEvents {
  readonly backend: GpioBackend;
  #value: 0 | 1 | undefined;
  #lastEdge: LastEdge | undefined;
  #edges = 0;
  #poll: Poll | undefined;

  constructor(
    private readonly ctx: DeviceContext<GpioOptions>,
    makeBackend: (events: LineEvents) => GpioBackend,
  ) {
    this.backend = makeBackend(this);
  }

  async open(): Promise<void> {
    await this.backend.open();
    this.#value = await this.backend.read();
    this.ctx.stateChanged();
    const o = this.ctx.options;
    // Inputs whose events do not tell every change (no edges, or one kind only) are re-read;
    // sysfs lines with edges re-read in their own wait loop, those without have none.
    const rereadBySysfsLoop = o.interface === 'sysfs' && o.edge !== 'none';
    if (o.direction === 'in' && o.edge !== 'both' && !rereadBySysfsLoop && o.pollMs > 0) {
      this.#poll = this.ctx.poll('poll', o.pollMs, () => this.get());
    }
  }

  async close(): Promise<void> {
    this.#poll?.stop();
    this.#poll = undefined;
    await this.backend.close();
  }

  /** The line request's file, for raw ioctls (security.rawIoctl); legacy sysfs has none. */
  rawFile(): DeviceFile | undefined {
    if (!this.backend.rawFile)
      throw new CommandError('forbidden', `${this.ctx.id} uses the legacy sysfs interface, which has no device file for raw ioctls`);
    return this.backend.rawFile();
  }

  state(): Record<string, unknown> {
    const o = this.ctx.options;
    return {
      value: this.#value ?? null,
      state: this.#value === undefined ? null : this.#value ? 'ON' : 'OFF',
      direction: o.direction,
      activeLow: o.activeLow,
      edge: o.edge,
      bias: o.bias,
      ...(o.direction === 'out' ? { drive: o.drive } : { debounceMs: o.debounceMs }),
      ...this.backend.where,
      ...(o.direction === 'in' ? { edges: this.#edges, lastEdge: this.#lastEdge ?? null } : {}),
    };
  }

  // ---- LineEvents: what the backend reports --------------------------------

  edges(events: readonly EdgeEvent[], value: 0 | 1): void {
    if (!events.length && value === this.#value) return;
    for (const e of events) {
      // A kernel ns timestamp exceeds 2^53: a string keeps every digit through JSON.
      const timestampNs = e.timestampNs.toString();
      this.ctx.emit('edge', { edge: e.edge, value: e.edge === 'rising' ? 1 : 0, timestampNs, seqno: e.seqno, lineSeqno: e.lineSeqno });
      this.#lastEdge = { edge: e.edge, timestampNs, seqno: e.seqno };
    }
    this.#edges += events.length;
    this.#value = value;
    this.ctx.stateChanged();
  }

  lost(reason: Error): void {
    this.ctx.lost(reason);
  }

  // ---- commands ---------------------------------------------------------------

  async get(): Promise<Record<string, unknown>> {
    const value = await this.#guard(() => this.backend.read());
    if (value !== this.#value) {
      this.#value = value;
      this.ctx.stateChanged();
    }
    return this.state();
  }

  async set(value: 0 | 1): Promise<Record<string, unknown>> {
    this.#requireOutput('set');
    await this.#guard(() => this.backend.write(value));
    if (value !== this.#value) {
      this.#value = value;
      this.ctx.stateChanged();
    }
    return this.state();
  }

  /**
   * Drives `value` (default: the opposite of now) for `ms`, then restores the
   * value it had, also when the command is aborted (its timeout, a shutdown):
   * the restore runs in `finally` before the abort propagates.
   */
  async pulse(ms: number, value: 0 | 1 | undefined, signal: AbortSignal): Promise<Record<string, unknown>> {
    this.#requireOutput('pulse');
    signal.throwIfAborted();
    const before = await this.#guard(() => this.backend.read());
    await this.set(value ?? (before ? 0 : 1));
    try {
      await sleep(ms, undefined, { signal });
    } finally {
      await this.set(before);
    }
    return { ...this.state(), pulsedMs: ms };
  }

  #requireOutput(command: string): void {
    if (this.ctx.options.direction !== 'out') {
      throw new CommandError('bad_args', `${command} needs an output; ${this.ctx.id} is configured with direction "in"`);
    }
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (isDisconnect(e)) this.ctx.lost(e as Error);
      throw e;
    }
  }
}
