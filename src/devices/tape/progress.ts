/**
 * Progress of a long transfer, published at most once a second: the first
 * report a second after the start, then one per second, and a last one at the
 * end unless a report went out less than a second before.
 */
export interface Progress {
  readonly bytes: number;
  /** null when the size is not known in advance (reading a tape file). */
  readonly total: number | null;
  readonly rateBytesPerS: number;
}

export class ProgressThrottle {
  readonly #started: number;
  #last: number | null = null;

  constructor(
    private readonly publish: (p: Progress) => void,
    private readonly total: number | null,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 1000,
  ) {
    this.#started = now();
  }

  /** `bytes` done so far; publishes when a second has passed since the last report. */
  update(bytes: number): void {
    const t = this.now();
    if (t - (this.#last ?? this.#started) < this.intervalMs) return;
    this.#emit(bytes, t);
  }

  /** The transfer ended: a final report, unless the last one is under a second old. */
  done(bytes: number): void {
    const t = this.now();
    if (this.#last !== null && t - this.#last < this.intervalMs) return;
    this.#emit(bytes, t);
  }

  #emit(bytes: number, t: number): void {
    this.#last = t;
    const seconds = (t - this.#started) / 1000;
    this.publish({ bytes, total: this.total, rateBytesPerS: seconds > 0 ? Math.round(bytes / seconds) : 0 });
  }
}
