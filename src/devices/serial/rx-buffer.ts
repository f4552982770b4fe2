/**
 * Bytes received between commands, kept for `read`: bounded, oldest dropped
 * first (and counted), with waiters for a `read` that arrives before the data.
 */
export class RxBuffer {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = 0;
  readonly #waiters = new Set<() => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#size;
  }
  /** Bytes thrown away because nobody read them in time. */
  get dropped(): number {
    return this.#dropped;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size > this.#limit) {
      const head = this.#chunks[0] as Buffer;
      const over = this.#size - this.#limit;
      if (head.length <= over) {
        this.#chunks.shift();
        this.#size -= head.length;
        this.#dropped += head.length;
      } else {
        this.#chunks[0] = head.subarray(over);
        this.#size -= over;
        this.#dropped += over;
      }
    }
    for (const w of [...this.#waiters]) w();
  }

  /** Up to `max` bytes, oldest first. */
  take(max: number): Buffer {
    const out: Buffer[] = [];
    let n = 0;
    while (n < max && this.#chunks.length) {
      const head = this.#chunks[0] as Buffer;
      const want = max - n;
      if (head.length <= want) {
        out.push(head);
        this.#chunks.shift();
        n += head.length;
      } else {
        out.push(head.subarray(0, want));
        this.#chunks[0] = head.subarray(want);
        n += want;
      }
    }
    this.#size -= n;
    return Buffer.concat(out, n);
  }

  /** Resolves when there is something to take, or on timeout/abort (then maybe with nothing). */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#size > 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  /** Discards what is buffered and wakes every waiter (flush, reopen, close). */
  clear(): void {
    this.#chunks = [];
    this.#size = 0;
    for (const w of [...this.#waiters]) w();
  }
}
