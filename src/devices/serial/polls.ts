/**
 * State polls: AT commands a device runs on its own every `everyMs` (AT+CSQ
 * every minute, say), through the device queue like any command (the
 * runtime's poll service), so they never cut into one. Answers land in the
 * state; +CSQ is parsed into `signal`.
 */
import type { ErrorBody } from '../errors.js';
import type { DeviceContext, Poll } from '../kind.js';
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

/**
 * Starts each poll on the device runtime's poll service (ctx.poll): right
 * after the current turn (open has returned and the device is online), then
 * every `everyMs`. A failure's error body (`busy` behind a long command,
 * `timeout`, `device_error` with its errno) lands in the state like an answer.
 */
export function startAtPolls(
  ctx: Pick<DeviceContext<unknown>, 'poll'>,
  specs: readonly PollSpec[],
  defaultTimeoutMs: number,
  run: (command: string, timeoutMs: number, signal: AbortSignal) => Promise<AtAnswer>,
  onResult: (command: string, result: PollResult) => void,
): Poll[] {
  return specs.map((spec) => {
    const timeoutMs = spec.timeoutMs ?? defaultTimeoutMs;
    return ctx.poll(`poll ${spec.command}`, spec.everyMs, (signal) => run(spec.command, timeoutMs, signal), {
      now: true,
      timeoutMs: timeoutMs + 1000,
      onResult: (value) => {
        const a = value as AtAnswer;
        onResult(spec.command, { ts: Date.now(), final: a.final, lines: a.lines });
      },
      onError: (error) => onResult(spec.command, { ts: Date.now(), error }),
    });
  });
}
