/**
 * Command payloads as the contract defines them: empty → {}, a JSON object →
 * the arguments (with the reserved `id`, `expiresAt`, `timeoutMs`), anything
 * else → {value: <that scalar>}. Pure; every refusal says what was wrong.
 */
import { isUtf8 } from 'node:buffer';
import type { ErrorCode } from '../devices/errors.js';

export interface ParsedCommand {
  readonly args: Record<string, unknown>;
  readonly id?: string;
  /** Epoch ms after which the command must not run. */
  readonly expiresAt?: number;
  readonly timeoutMs?: number;
}

export type PayloadResult =
  | { readonly ok: true; readonly command: ParsedCommand }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly id?: string };

export const MAX_ID_LENGTH = 128;
/** A day: longer waits belong in a scheduler, not a command. */
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

function fail(code: ErrorCode, message: string, id?: string): PayloadResult {
  return id === undefined ? { ok: false, code, message } : { ok: false, code, message, id };
}

/** The largest time a Date holds (ECMAScript: ±8.64e15 ms); past it toISOString() throws. */
const MAX_TIME_MS = 8.64e15;

function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) <= MAX_TIME_MS ? v : undefined;
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/**
 * An object's first member when it is `"id"` (a string or a number), read from
 * the head of a payload too large to parse: its `too_large` result then carries
 * the sender's id, which is how an MQTT 3.1.1 client (no Correlation Data)
 * matches it. A later or nested "id" cannot be told from data without parsing
 * the whole, so only the first member counts.
 */
// Leading whitespace as the parser's trim() drops it (a BOM too); between tokens only JSON's four.
const HEAD_ID = /^\s*\{[ \t\n\r]*"id"[ \t\n\r]*:[ \t\n\r]*("(?:[^"\\]|\\.){1,768}"|-?\d{1,100}(?:\.\d+)?(?:[eE][+-]?\d+)?)[ \t\n\r]*[,}]/;
/** Enough bytes for `{ "id": ` and the longest id with every character escaped (\uXXXX). */
const HEAD_BYTES = 1024;

function headId(payload: Uint8Array): string | undefined {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, Math.min(payload.byteLength, HEAD_BYTES));
  const match = HEAD_ID.exec(bytes.toString('utf8'));
  if (!match) return undefined;
  // The decoder turned bytes that are not UTF-8 into U+FFFD: an id the sender never sent, and a payload the
  // parser would refuse. Encoded back, a clean match is the payload's own bytes.
  const read = Buffer.from(match[0], 'utf8');
  if (!read.equals(bytes.subarray(0, read.byteLength))) return undefined;
  const literal = match[1] as string;
  let raw: unknown;
  try {
    raw = JSON.parse(literal);
  } catch {
    return undefined;
  }
  if (typeof raw === 'number') return Number.isFinite(raw) ? String(raw) : undefined;
  return typeof raw === 'string' && raw.length > 0 && raw.length <= MAX_ID_LENGTH ? raw : undefined;
}

export function parsePayload(payload: Uint8Array, maxBytes: number): PayloadResult {
  if (payload.length > maxBytes) {
    return fail('too_large', `payload of ${payload.length} bytes is over the limit of ${maxBytes}`, headId(payload));
  }
  if (!isUtf8(payload)) return fail('bad_payload', 'payload is not valid UTF-8');
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8').trim();
  if (text === '') return { ok: true, command: { args: {} } };

  let value: unknown;
  let isJson = true;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // A bare word such as ON is a scalar value; broken JSON is an error.
    if (text.startsWith('{') || text.startsWith('[') || e instanceof RangeError) {
      return fail('bad_payload', `payload is not valid JSON: ${(e as Error).message}`);
    }
    isJson = false;
    value = text;
  }
  if (Array.isArray(value)) return fail('bad_payload', 'payload must be a JSON object or a single value, not an array');
  if (value === null) return fail('bad_payload', 'payload must be a JSON object or a single value, not null');
  if (typeof value !== 'object') return { ok: true, command: { args: { value: isJson ? value : text } } };

  // A spread defines own properties: a `__proto__` key from JSON stays a plain key.
  const args: Record<string, unknown> = { ...(value as Record<string, unknown>) };

  let id: string | undefined;
  if (Object.hasOwn(args, 'id')) {
    const raw = args.id;
    if (typeof raw === 'number' && Number.isFinite(raw)) id = String(raw);
    else if (typeof raw === 'string' && raw.length > 0 && raw.length <= MAX_ID_LENGTH) id = raw;
    else return fail('bad_payload', `"id" must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    delete args.id;
  }
  let expiresAt: number | undefined;
  if (Object.hasOwn(args, 'expiresAt')) {
    expiresAt = parseTime(args.expiresAt);
    if (expiresAt === undefined) return fail('bad_args', '"expiresAt" must be epoch milliseconds or an ISO 8601 time', id);
    delete args.expiresAt;
  }
  let timeoutMs: number | undefined;
  if (Object.hasOwn(args, 'timeoutMs')) {
    const t = args.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) {
      return fail('bad_args', `"timeoutMs" must be an integer from 1 to ${MAX_TIMEOUT_MS}`, id);
    }
    timeoutMs = t;
    delete args.timeoutMs;
  }
  return {
    ok: true,
    command: {
      args,
      ...(id !== undefined ? { id } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    },
  };
}
