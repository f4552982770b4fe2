/**
 * The one poll loop of the device runtime (DeviceContext.poll): a device's
 * periodic work — an LED re-read, a tape status, an AT+CSQ — runs through the
 * device's command queue like a command, so it never cuts into one, and only
 * while the device is online. A run still queued or running is not queued
 * again (a status poll behind a two-minute rewind stays one poll). A failed
 * run is reported with the queue's own error body — `busy`, `timeout`,
 * `device_error` with its errno — never flattened to a message.
 */
import type { Logger } from 'pino';
import type { ErrorBody } from '../devices/errors.js';
import type { Poll, PollOptions } from '../devices/kind.js';
import type { Outcome } from './queue.js';

export interface PollHost {
  /** Runs `work` in the device's queue; resolves with its outcome, never rejects. */
  run(label: string, work: (signal: AbortSignal) => Promise<unknown>, timeoutMs: number): Promise<Outcome>;
  /** Whether polls may run now (the device is open and online). */
  active(): boolean;
  /** Whether no command holds the device now. */
  idle(): boolean;
  readonly log: Logger;
}

/** What a run may take in the queue when its poll names no timeout (the old enqueue default). */
export const POLL_TIMEOUT_MS = 30_000;

interface Entry {
  readonly timers: NodeJS.Timeout[];
  busy: boolean;
  /** The last failure's code and errno, so a repeating one is not logged at warn every time. */
  lastError: string | undefined;
}

export class Polls {
  readonly #entries = new Set<Entry>();

  constructor(private readonly host: PollHost) {}

  get size(): number {
    return this.#entries.size;
  }

  add(label: string, everyMs: number, work: (signal: AbortSignal) => Promise<unknown>, opts: PollOptions = {}): Poll {
    if (!(everyMs > 0)) throw new RangeError(`poll '${label}': everyMs must be above 0, not ${everyMs}`);
    const entry: Entry = { timers: [], busy: false, lastError: undefined };
    const tick = (): void => void this.#tick(entry, label, work, opts);
    if (opts.now) entry.timers.push(setTimeout(tick, 0));
    entry.timers.push(setInterval(tick, everyMs));
    for (const t of entry.timers) t.unref();
    this.#entries.add(entry);
    return { stop: () => this.#stop(entry) };
  }

  /** Every poll ends (the device closed). */
  stopAll(): void {
    for (const e of [...this.#entries]) this.#stop(e);
  }

  #stop(entry: Entry): void {
    for (const t of entry.timers) clearTimeout(t);
    this.#entries.delete(entry);
  }

  async #tick(entry: Entry, label: string, work: (signal: AbortSignal) => Promise<unknown>, opts: PollOptions): Promise<void> {
    if (entry.busy || !this.#entries.has(entry) || !this.host.active()) return;
    if (opts.idleOnly && !this.host.idle()) return;
    entry.busy = true;
    try {
      const outcome = await this.host.run(label, work, opts.timeoutMs ?? POLL_TIMEOUT_MS);
      if (outcome.ok) {
        if (entry.lastError !== undefined) this.host.log.info({ poll: label }, 'poll works again');
        entry.lastError = undefined;
        opts.onResult?.(outcome.value);
      } else {
        this.#failed(entry, label, outcome.error, opts);
      }
    } catch (e) {
      // A throwing onResult/onError is the kind's bug; it must not end the loop or the agent.
      this.host.log.error({ err: e, poll: label }, 'poll callback failed');
    } finally {
      entry.busy = false;
    }
  }

  #failed(entry: Entry, label: string, error: ErrorBody, opts: PollOptions): void {
    const key = `${error.code}/${error.errno ?? ''}`;
    const changed = key !== entry.lastError;
    entry.lastError = key;
    if (opts.onError) opts.onError(error);
    else if (changed) this.host.log.warn({ poll: label, error }, 'poll failed');
    else this.host.log.debug({ poll: label, error }, 'poll failed again');
  }
}
