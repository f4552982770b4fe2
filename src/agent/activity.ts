/**
 * What the node state says about the commands of late: how many arrived in
 * the last minute (one-second buckets, so the figure slides rather than
 * jumps) and the last one that failed, for dashboards and Home Assistant's
 * diagnostic entities.
 */
import type { ErrorBody } from '../devices/errors.js';

export interface LastError {
  readonly code: string;
  readonly message: string;
  readonly device: string | null;
  readonly command: string;
  readonly errno?: string;
  readonly ts: number;
}

const WINDOW_S = 60;

export class CommandActivity {
  readonly #counts = new Uint32Array(WINDOW_S);
  /** The second each bucket last counted (epoch s), so a stale bucket reads as empty. */
  readonly #seconds = new Float64Array(WINDOW_S);
  #last: LastError | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** One command answered; `error` when it failed. */
  record(device: string | undefined, command: string, error?: ErrorBody): void {
    const ms = this.now();
    const second = Math.floor(ms / 1000);
    const i = second % WINDOW_S;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#counts[i] = 0;
    }
    this.#counts[i]! += 1;
    if (error) {
      this.#last = {
        code: error.code,
        message: error.message,
        device: device ?? null,
        command,
        ...(error.errno ? { errno: error.errno } : {}),
        ts: ms,
      };
    }
  }

  /** Commands answered in the last 60 s. */
  perMinute(): number {
    const second = Math.floor(this.now() / 1000);
    let n = 0;
    for (let i = 0; i < WINDOW_S; i++) if (second - this.#seconds[i]! < WINDOW_S) n += this.#counts[i]!;
    return n;
  }

  get lastError(): LastError | null {
    return this.#last;
  }
}
