/** A pino destination that keeps every line, so tests can read what the agent logged. */
import { Writable } from 'node:stream';
import { deadline } from '../../helpers/deadline.js';

export class LogCapture extends Writable {
  #text = '';
  #waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    const s = chunk.toString();
    this.#text += s;
    this.#waiters = this.#waiters.filter((w) => {
      const line = this.#find(w.re);
      if (line === undefined) return true;
      w.resolve(line);
      return false;
    });
    this.emit('logged');
    done();
  }

  get text(): string {
    return this.#text;
  }

  /** The `msg` of every JSON line. */
  messages(): string[] {
    return this.#text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return String((JSON.parse(l) as { msg?: unknown }).msg ?? '');
        } catch {
          return l;
        }
      });
  }

  /** Resolves with the first line (already logged or future) that matches; `timeoutMs` is for an idle machine (helpers/deadline.ts). */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const hit = this.#find(re);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no log line matched ${re} within ${deadline(timeoutMs)} ms; log:\n${this.#text.slice(-4000)}`)),
        deadline(timeoutMs),
      );
      this.#waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  }

  /** Resolves with the matching lines once there are `n` of them (already logged or future). */
  waitForCount(re: RegExp, n: number, timeoutMs = 30_000): Promise<string[]> {
    const matching = (): string[] => this.#text.split('\n').filter((l) => re.test(l));
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const lines = matching();
        if (lines.length < n) return;
        clearTimeout(t);
        this.off('logged', check);
        resolve(lines);
      };
      const t = setTimeout(() => {
        this.off('logged', check);
        reject(new Error(`fewer than ${n} log lines matched ${re} within ${deadline(timeoutMs)} ms; log:\n${this.#text.slice(-4000)}`));
      }, deadline(timeoutMs));
      this.on('logged', check);
      check();
    });
  }

  #find(re: RegExp): string | undefined {
    return this.#text.split('\n').find((l) => re.test(l));
  }
}
