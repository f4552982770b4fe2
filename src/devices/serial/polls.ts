/**
 * State polls: AT commands a device runs on its own every `everyMs` (AT+CSQ
 * every minute, say), through the device queue like any command, so they
 * never cut into one. Answers land in the state; +CSQ is parsed into
 * `signal`.
 */
import type { Logger } from 'pino';
import { toErrorBody, type ErrorBody } from '../errors.js';
import { paramsOf } from './at-codes.js';
import type { AtAnswer } from './at-engine.js';

export interface PollSpec {
  readonly command: string;
  readonly everyMs: number;
  readonly timeoutMs?: number | undefined;
}

export type PollResult =
  { readonly ts: number; readonly final: string; readonly lines: readonly string[] } | { readonly ts: number; readonly error: ErrorBody };

export interface SignalQuality {
  /** 27.007 <rssi>: 0..31, null for 99 (not known). */
  readonly rssi: number | null;
  /** 27.007 <ber>: 0..7, null for 99. */
  readonly ber: number | null;
  /** -113 dBm at rssi 0, 2 dB a step, -51 dBm and better at 31. */
  readonly dbm: number | null;
  /** rssi scaled to 0..100. */
  readonly percent: number | null;
}

/** `+CSQ: 21,99` → rssi 21 (-71 dBm, 68 %), ber unknown; undefined when no +CSQ line is there. */
export function parseCsq(lines: readonly string[]): SignalQuality | undefined {
  const line = lines.find((l) => /^\+CSQ\s*:/i.test(l));
  if (!line) return undefined;
  const [r, b] = paramsOf(line).map((p) => Number.parseInt(p, 10));
  const rssi = r !== undefined && Number.isInteger(r) && r >= 0 && r <= 31 ? r : null;
  const ber = b !== undefined && Number.isInteger(b) && b >= 0 && b <= 7 ? b : null;
  return { rssi, ber, dbm: rssi === null ? null : -113 + 2 * rssi, percent: rssi === null ? null : Math.round((rssi / 31) * 100) };
}

export interface PollDeps {
  enqueue<T>(label: string, work: (signal: AbortSignal) => Promise<T>, timeoutMs?: number): Promise<T>;
  run(command: string, timeoutMs: number, signal: AbortSignal): Promise<AtAnswer>;
  onResult(command: string, result: PollResult): void;
  readonly defaultTimeoutMs: number;
  readonly log: Logger;
}

export class Polls {
  readonly #specs: readonly PollSpec[];
  readonly #deps: PollDeps;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #inFlight = new Set<string>();

  constructor(specs: readonly PollSpec[], deps: PollDeps) {
    this.#specs = specs;
    this.#deps = deps;
  }

  /**
   * Runs each poll right after the current turn (once `open` has returned and
   * the agent has marked the device online), then every `everyMs`.
   */
  start(): void {
    this.stop();
    for (const spec of this.#specs) {
      const first = setTimeout(() => this.#tick(spec), 0);
      first.unref();
      this.#timers.push(first);
      const t = setInterval(() => this.#tick(spec), spec.everyMs);
      t.unref();
      this.#timers.push(t);
    }
  }

  stop(): void {
    for (const t of this.#timers.splice(0)) clearTimeout(t);
  }

  #tick(spec: PollSpec): void {
    // A poll still queued behind a long command is not queued twice.
    if (this.#inFlight.has(spec.command)) return;
    this.#inFlight.add(spec.command);
    const timeoutMs = spec.timeoutMs ?? this.#deps.defaultTimeoutMs;
    this.#deps
      .enqueue(`poll ${spec.command}`, (signal) => this.#deps.run(spec.command, timeoutMs, signal), timeoutMs + 1000)
      .then(
        (a) => this.#deps.onResult(spec.command, { ts: Date.now(), final: a.final, lines: a.lines }),
        (e: unknown) => {
          this.#deps.log.debug({ err: e, command: spec.command }, 'state poll failed');
          this.#deps.onResult(spec.command, { ts: Date.now(), error: toErrorBody(e) });
        },
      )
      .finally(() => this.#inFlight.delete(spec.command))
      .catch(() => undefined);
  }
}
