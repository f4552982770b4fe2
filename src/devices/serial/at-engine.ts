/**
 * AT commands over a line: write the command with CR, collect the answer up
 * to its final result code, strip the echo, and keep what the modem says on
 * its own (a RING, a new SMS) out of the answer. Commands never overlap: each
 * waits for the one before to finish (the device queue already orders them;
 * this chain keeps the engine correct on its own).
 */
import type { Logger } from 'pino';
import { CommandError } from '../errors.js';
import { isFinal, type UrcMatcher } from './at-codes.js';

export interface AtAnswer {
  /** The final result code line: `OK`, `ERROR`, `+CME ERROR: 10`, `CONNECT 115200` … */
  readonly final: string;
  /** The information lines between the echo and the final result code. */
  readonly lines: string[];
}

export type UnsolicitedMode = 'all' | 'known' | 'off';

export interface AtEngineDeps {
  /** Resolves when the bytes are in the kernel. */
  write(data: Buffer): Promise<void>;
  /** Discards input not read yet (after a command gave up, its late answer must not answer the next one). */
  discardInput(): void;
  readonly urcs: UrcMatcher;
  readonly unsolicited: UnsolicitedMode;
  /** A line the modem sent on its own; `during` names the command it arrived in the middle of. */
  onUnsolicited(line: string, during?: string): void;
  readonly log: Logger;
}

interface Running {
  readonly command: string;
  readonly lines: string[];
  echoSeen: boolean;
  settle(answer: AtAnswer | Error): void;
}

export class AtEngine {
  readonly #deps: AtEngineDeps;
  #current: Running | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  /** A command gave up before its final result code: whatever comes next may be its late answer. */
  #stale = false;

  constructor(deps: AtEngineDeps) {
    this.#deps = deps;
  }

  /** A command is waiting for its answer. */
  get busy(): boolean {
    return this.#current !== undefined;
  }

  run(command: string, timeoutMs: number, signal?: AbortSignal): Promise<AtAnswer> {
    const next = this.#tail.then(() => this.#run(command, timeoutMs, signal));
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /** Every complete line received, in order. */
  onLine(line: string): void {
    const cur = this.#current;
    if (cur) {
      if (!cur.echoSeen && cur.lines.length === 0 && sameCommand(line, cur.command)) {
        cur.echoSeen = true;
      } else if (isFinal(line)) {
        cur.settle({ final: line, lines: cur.lines });
      } else if (this.#deps.urcs.interrupts(line, cur.command)) {
        this.#unsolicited(line, cur.command);
      } else {
        cur.lines.push(line);
      }
      return;
    }
    if (this.#stale && !this.#deps.urcs.isKnown(line)) {
      // The tail of a command that timed out: not news, and not unsolicited.
      if (isFinal(line)) this.#stale = false;
      this.#deps.log.debug({ line }, 'late answer line dropped');
      return;
    }
    this.#unsolicited(line);
  }

  /** A fresh port: nothing late can arrive on it. */
  reset(): void {
    this.#stale = false;
  }

  /** The port is gone or closing: the running command fails with `reason`. */
  abort(reason: Error): void {
    this.#current?.settle(reason);
  }

  #unsolicited(line: string, during?: string): void {
    const mode = this.#deps.unsolicited;
    if (mode === 'off') return;
    if (mode === 'known' && !this.#deps.urcs.isKnown(line)) return;
    this.#deps.onUnsolicited(line, during);
  }

  #run(command: string, timeoutMs: number, signal?: AbortSignal): Promise<AtAnswer> {
    if (signal?.aborted) return Promise.reject(new CommandError('canceled', `${command} was not sent: the command was aborted`));
    if (this.#stale) {
      this.#deps.discardInput();
      this.#stale = false;
    }
    return new Promise<AtAnswer>((resolve, reject) => {
      const onAbort = (): void =>
        run.settle(new CommandError('timeout', `${command}: no final result code before the command was aborted`, { lines: run.lines }));
      const timer = setTimeout(() => {
        run.settle(new CommandError('timeout', `${command}: no final result code within ${timeoutMs} ms`, { lines: run.lines }));
      }, timeoutMs);
      const run: Running = {
        command,
        lines: [],
        echoSeen: false,
        settle: (answer) => {
          if (this.#current !== run) return;
          this.#current = undefined;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (answer instanceof Error) {
            this.#stale = true;
            reject(answer);
          } else {
            resolve(answer);
          }
        },
      };
      this.#current = run;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#deps
        .write(Buffer.from(`${command}\r`, 'utf8'))
        .catch((e: unknown) => run.settle(e instanceof Error ? e : new Error(String(e))));
    });
  }
}

function sameCommand(line: string, command: string): boolean {
  return line.trim().toUpperCase() === command.trim().toUpperCase();
}

/** `+CME ERROR: 10` → 10; verbose (`+CME ERROR: SIM not inserted`) → the text. */
export function errorDetail(final: string): { cme?: number | string; cms?: number | string } {
  const m = /^\+(CME|CMS) ERROR:\s*(.*)$/.exec(final);
  if (!m) return {};
  const raw = (m[2] ?? '').trim();
  const value = /^\d+$/.test(raw) ? Number(raw) : raw;
  return m[1] === 'CME' ? { cme: value } : { cms: value };
}
