/**
 * Where the agent's JSON log lines go: a file descriptor (stdout), one
 * write(2) per line as pino hands it over. pino's own writer turns a refused
 * write into an unhandled `error` event, and its exit hook then retries the
 * write forever, so a log file on a full or failing SD card (stdout
 * redirected to it) would stop the agent, or hang it on its way out.
 *
 * Here a refused write (ENOSPC, EROFS, EIO, EAGAIN …) drops the line and
 * counts it, nothing more: logging is *degraded*, the health says why and how
 * many lines are gone, and every new line tries the disk again (a failed
 * write costs one system call). The first line that is written again ends
 * the spell; the listener then logs what was dropped, in the log itself.
 * Nothing is buffered, so there is nothing to flush at exit.
 *
 * A pipe or journald's socket on stdout is non-blocking (libuv makes it so
 * once process.stdout is touched): EAGAIN there means the reader is behind,
 * not a failure, so the line waits for it, as a blocking stdout would, but
 * only up to `stallMs`: a reader that stopped reading degrades the log (one
 * wait per spell) instead of hanging the agent past its 5 s stop.
 */
import { writeSync } from 'node:fs';
import { describeIoError, errnoOf } from './io-error.js';

/** How long one line may wait for a reader that is behind (journald busy on a slow card, `| tee`). */
export const LOG_STALL_MS = 2000;
/** The longest single nap while waiting: short, so a reader that catches up is followed at once. */
const MAX_NAP_MS = 20;
const napCell = new Int32Array(new SharedArrayBuffer(4));
const nap = (ms: number): void => void Atomics.wait(napCell, 0, 0, ms);

export interface LogHealth {
  readonly state: 'ok' | 'degraded';
  /** When degraded: the errno and what it means for the log. */
  readonly reason?: string;
  readonly errno?: string;
  /** Lines dropped in this degraded spell (in the one that just ended, when a listener hears `ok`). */
  readonly dropped: number;
  /** When the spell began (epoch ms). */
  readonly sinceMs?: number;
}

/** Hears each change of health: ok ↔ degraded, or the errno while degraded; `was` is the health before. */
export type LogHealthListener = (health: LogHealth, was: LogHealth) => void;

export class LogOutput {
  readonly #fd: number;
  readonly #name: string;
  #health: LogHealth = { state: 'ok', dropped: 0 };
  /** A line was cut short by a failing write: the next one starts on a line of its own. */
  #torn = false;
  readonly #listeners = new Set<LogHealthListener>();

  readonly #stallMs: number;

  /** `name`: how the reason names the fd (`stdout`); `stallMs`: see LOG_STALL_MS. */
  constructor(fd = 1, name = 'stdout', stallMs = LOG_STALL_MS) {
    this.#fd = fd;
    this.#name = name;
    this.#stallMs = stallMs;
  }

  get health(): LogHealth {
    return this.#health;
  }

  /** Adds a listener; returns what removes it (several agents in one process may share an output). */
  onHealth(listener: LogHealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** pino's destination interface. Never throws. */
  write(line: string): boolean {
    const buf = Buffer.from(this.#torn ? `\n${line}` : line);
    let at = 0;
    let waitedMs = 0;
    try {
      while (at < buf.length) {
        try {
          at += writeSync(this.#fd, buf, at, buf.length - at);
        } catch (e) {
          // Already stalled this spell: the reader is not back yet, so no second wait.
          if (errnoOf(e) !== 'EAGAIN' || this.#health.errno === 'EAGAIN' || waitedMs >= this.#stallMs) throw e;
          const ms = Math.min(MAX_NAP_MS, 1 + waitedMs, this.#stallMs - waitedMs);
          nap(ms);
          waitedMs += ms;
        }
      }
    } catch (e) {
      // A disk that fills up takes what fits, then refuses the rest.
      if (at > 0) this.#torn = true;
      this.#dropped(e);
      return true;
    }
    this.#torn = false;
    if (this.#health.state === 'degraded') this.#set({ state: 'ok', dropped: 0 });
    return true;
  }

  #dropped(e: unknown): void {
    const was = this.#health;
    const errno = errnoOf(e);
    if (was.state === 'degraded' && was.errno === errno) {
      this.#health = { ...was, dropped: was.dropped + 1 };
      return;
    }
    this.#set({
      state: 'degraded',
      ...(errno ? { errno } : {}),
      reason: `${describeIoError(e)} writing log lines to ${this.#name}: they are dropped (and counted) until a write succeeds`,
      dropped: was.dropped + 1,
      sinceMs: was.sinceMs ?? Date.now(),
    });
  }

  #set(health: LogHealth): void {
    const was = this.#health;
    this.#health = health;
    for (const l of this.#listeners) l(health, was);
  }
}
