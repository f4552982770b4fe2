/**
 * One queue per device: commands to a device run one at a time, in arrival
 * order, while other devices' queues run in parallel. Each job has a timeout
 * that counts from its arrival: still waiting when it passes → `busy`; running
 * → `timeout`, its signal is aborted, and the device stays held until the
 * handler really returns (a drive cannot be interrupted mid-rewind).
 */
import { toErrorBody, type ErrorBody } from '../devices/errors.js';

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorBody };

/**
 * An AbortController made only when a handler asks for its signal: creating
 * one for each command was a few per cent of a busy agent's time, and most
 * handlers finish without ever looking.
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

export interface Job {
  readonly id: string;
  /** The command (or `batch`, or a poll's label), for messages and `busy` state. */
  readonly label: string;
  readonly timeoutMs: number;
  /** Epoch ms; past it at the head of the queue → `expired`. */
  readonly expiresAt?: number;
  /** `abort.signal` is aborted on timeout and at shutdown. */
  run(abort: { readonly signal: AbortSignal }): unknown;
  /** Called exactly once. */
  settle(outcome: Outcome): void;
}

interface Running {
  readonly slot: Slot;
  readonly abort: LazyAbort;
  readonly since: number;
  /** Resolves close()'s wait when the handler returns. */
  done?: () => void;
}

interface Slot {
  readonly job: Job;
  timer?: NodeJS.Timeout;
  settled: boolean;
}

export interface QueueHooks {
  /** Whether the device can take a command now (checked when a job reaches the head). */
  available(): boolean;
  now(): number;
  /** Fired when a job starts and when the device goes idle. */
  busyChanged?(running: { label: string; since: number } | undefined): void;
  /** A callback threw (a bug past the queue): the queue has moved on regardless; this says what happened. */
  callbackFailed?(error: unknown, where: string): void;
}

export class CommandQueue {
  readonly #waiting: Slot[] = [];
  #running: Running | undefined;
  #closed = false;

  constructor(private readonly hooks: QueueHooks) {}

  get length(): number {
    return this.#waiting.length;
  }

  get running(): { label: string; id: string; since: number } | undefined {
    const r = this.#running;
    return r && { label: r.slot.job.label, id: r.slot.job.id, since: r.since };
  }

  push(job: Job): void {
    const slot: Slot = { job, settled: false };
    if (this.#closed) {
      this.#settle(slot, { ok: false, error: { code: 'canceled', message: 'the agent is shutting down' } });
      return;
    }
    slot.timer = setTimeout(() => this.#timedOut(slot), job.timeoutMs);
    this.#waiting.push(slot);
    this.#pump();
  }

  /** Removes a queued, not yet started job; it gets `canceled`. */
  cancel(id: string): boolean {
    const i = this.#waiting.findIndex((s) => s.job.id === id);
    if (i < 0) return false;
    const [slot] = this.#waiting.splice(i, 1);
    if (slot) this.#settle(slot, { ok: false, error: { code: 'canceled', message: `command '${id}' was canceled before it started` } });
    return true;
  }

  /**
   * Stops taking jobs: waiting ones get `canceled`; the running one is given
   * `graceMs` to finish, then abandoned (aborted, result `canceled`).
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    for (const slot of this.#waiting.splice(0)) {
      this.#settle(slot, { ok: false, error: { code: 'canceled', message: 'the agent is shutting down' } });
    }
    const r = this.#running;
    if (!r) return;
    const finished = new Promise<void>((resolve) => {
      r.done = resolve;
    });
    const timer = setTimeout(() => {
      r.abort.abort(new Error('shutdown'));
      this.#settle(r.slot, { ok: false, error: { code: 'canceled', message: `abandoned '${r.slot.job.label}' at shutdown` } });
    }, graceMs);
    await Promise.race([finished, new Promise<void>((resolve) => setTimeout(resolve, graceMs + 50))]);
    clearTimeout(timer);
  }

  #timedOut(slot: Slot): void {
    const i = this.#waiting.indexOf(slot);
    if (i >= 0) {
      this.#waiting.splice(i, 1);
      const r = this.#running;
      const behind = r ? ` behind '${r.slot.job.label}' (running for ${Math.round(this.hooks.now() - r.since)} ms)` : '';
      this.#settle(slot, { ok: false, error: { code: 'busy', message: `device busy: waited ${slot.job.timeoutMs} ms${behind}` } });
      return;
    }
    if (this.#running?.slot === slot) {
      this.#running.abort.abort(new Error('timeout'));
      this.#settle(slot, {
        ok: false,
        error: { code: 'timeout', message: `'${slot.job.label}' did not finish within ${slot.job.timeoutMs} ms` },
      });
    }
  }

  /**
   * Never throws: it runs from timers and promise callbacks, where a throw would
   * be uncaught, and from the step that frees the device, which must complete.
   */
  #settle(slot: Slot, outcome: Outcome): void {
    if (slot.settled) return;
    slot.settled = true;
    if (slot.timer) clearTimeout(slot.timer);
    try {
      slot.job.settle(outcome);
    } catch (e) {
      this.#callbackFailed(e, `settling '${slot.job.label}' (${slot.job.id})`);
    }
  }

  #callbackFailed(e: unknown, where: string): void {
    try {
      this.hooks.callbackFailed?.(e, where);
    } catch {
      // Nothing left to tell it to.
    }
  }

  /** A hook that throws must not leave a job running that never started, nor a device held. */
  #busyChanged(running: { label: string; since: number } | undefined): void {
    try {
      this.hooks.busyChanged?.(running);
    } catch (e) {
      this.#callbackFailed(e, 'busyChanged');
    }
  }

  #pump(): void {
    while (!this.#running && this.#waiting.length) {
      const slot = this.#waiting.shift() as Slot;
      const { job } = slot;
      if (job.expiresAt !== undefined && Date.now() > job.expiresAt) {
        this.#settle(slot, {
          ok: false,
          error: { code: 'expired', message: `expired at ${new Date(job.expiresAt).toISOString()} before it could run` },
        });
        continue;
      }
      if (!this.hooks.available()) {
        this.#settle(slot, {
          ok: false,
          error: { code: 'unavailable', message: 'the device cannot be used now (see its availability topic)' },
        });
        continue;
      }
      this.#start(slot);
    }
  }

  #start(slot: Slot): void {
    const abort = new LazyAbort();
    const since = this.hooks.now();
    const running: Running = { slot, abort, since };
    this.#running = running;
    this.#busyChanged({ label: slot.job.label, since });
    const finish = (outcome: Outcome): void => {
      // The device is free before anyone hears of the outcome: nothing they do can keep it held.
      this.#running = undefined;
      this.#settle(slot, outcome);
      this.#busyChanged(undefined);
      running.done?.();
      this.#pump();
    };
    let result: unknown;
    try {
      result = slot.job.run(abort);
    } catch (e) {
      finish({ ok: false, error: toErrorBody(e) });
      return;
    }
    Promise.resolve(result).then(
      (value) => finish({ ok: true, value }),
      (e: unknown) => finish({ ok: false, error: toErrorBody(e) }),
    );
  }
}
