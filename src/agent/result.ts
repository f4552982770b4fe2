/** The result payload: exactly one per accepted command message. */
import type { ErrorBody } from '../devices/errors.js';

export interface CommandResult {
  readonly id: string;
  readonly node: string;
  /** The device named in the command topic (absent for node commands). */
  readonly device?: string;
  readonly command: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: ErrorBody;
  /** Milliseconds from arrival to the result. */
  readonly ms: number;
}

export function okResult(base: Omit<CommandResult, 'ok' | 'result' | 'error'>, result: unknown): CommandResult {
  return { ...base, ok: true, result: result === undefined ? {} : result };
}

export function errorResult(base: Omit<CommandResult, 'ok' | 'result' | 'error'>, error: ErrorBody, result?: unknown): CommandResult {
  return result === undefined ? { ...base, ok: false, error } : { ...base, ok: false, error, result };
}

/** Sub-millisecond precision is noise on a shared machine; keep two decimals. */
export function elapsedMs(since: number, now = performance.now()): number {
  return Math.round((now - since) * 100) / 100;
}

/** JSON that never throws: a handler returning BigInt or a cycle must not cost the result. */
export function encodeResult(r: CommandResult): string {
  try {
    return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    return JSON.stringify({ ...r, ok: false, result: undefined, error: { code: 'device_error', message: `result could not be encoded: ${(e as Error).message}` } });
  }
}
