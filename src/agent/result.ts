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

type Base = Omit<CommandResult, 'ok' | 'result' | 'error'>;

// Built key by key so the JSON reads in the contract's order: id, device, command, ok, result/error, ms.
export function okResult(b: Base, result: unknown): CommandResult {
  return {
    id: b.id,
    node: b.node,
    ...(b.device !== undefined ? { device: b.device } : {}),
    command: b.command,
    ok: true,
    result: result === undefined ? {} : result,
    ms: b.ms,
  };
}

export function errorResult(b: Base, error: ErrorBody, result?: unknown): CommandResult {
  return {
    id: b.id,
    node: b.node,
    ...(b.device !== undefined ? { device: b.device } : {}),
    command: b.command,
    ok: false,
    error,
    ...(result === undefined ? {} : { result }),
    ms: b.ms,
  };
}

/** Sub-millisecond precision is noise on a shared machine; keep two decimals. */
export function elapsedMs(since: number, now = performance.now()): number {
  return Math.round((now - since) * 100) / 100;
}

/** JSON with BigInts as decimal strings; still throws on a cycle. */
export function jsonWithBigInts(v: unknown): string {
  try {
    // A replacer takes JSON.stringify off its fast path for every call; only a BigInt needs one.
    return JSON.stringify(v);
  } catch {
    // A BigInt (TypeError) gets the replacer below; a cycle fails there again.
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  }
}

/** JSON that never throws: a handler returning BigInt or a cycle must not cost the result. */
export function encodeResult(r: CommandResult): string {
  try {
    return jsonWithBigInts(r);
  } catch (e) {
    return JSON.stringify({
      ...r,
      ok: false,
      result: undefined,
      error: { code: 'device_error', message: `result could not be encoded: ${(e as Error).message}` },
    });
  }
}
