/**
 * The error results of the contract, as values a handler can throw. Anything
 * else a handler throws is mapped by `toCommandError`: kernel and fs errors
 * become `device_error` with their errno, so a user sees e.g. `EIO` on
 * MTIOCTOP at /dev/nst0 instead of a stack trace.
 */
import { KernelError } from '../kernel/errors.js';

export const ERROR_CODES = [
  'bad_payload',
  'bad_args',
  'unknown_device',
  'unknown_command',
  'device_error',
  'timeout',
  'busy',
  'forbidden',
  'too_large',
  'rate_limited',
  'unavailable',
  'expired',
  'canceled',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  /** errno name for `device_error` from a syscall (`EIO`, `ENOTTY`). */
  readonly errno?: string;
  /** Request name of a failed ioctl (`MTIOCTOP`). */
  readonly request?: string;
  readonly path?: string;
  readonly [extra: string]: unknown;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { ...this.extra, code: this.code, message: this.message };
  }

  /** The error a result body describes, so that `toErrorBody` gives that body back (errno, path and all). */
  static fromBody(body: ErrorBody): CommandError {
    const { code, message, ...extra } = body;
    return new CommandError(code, message, extra);
  }
}

/** An errno-carrying error from Node's fs (sysfs writes): `{ code: 'EACCES', syscall, path }`. */
interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** An errno-carrying error of Node's fs or net (ENOSPC, EROFS, EIO …), as opposed to a bug. */
export function isSystemError(e: unknown): e is SystemError {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}

export function toErrorBody(e: unknown): ErrorBody {
  if (e instanceof CommandError) return e.body();
  if (e instanceof KernelError) {
    return {
      code: 'device_error',
      message: e.message,
      errno: e.code,
      syscall: e.syscall,
      ...(e.request ? { request: e.request } : {}),
      ...(e.path ? { path: e.path } : {}),
    };
  }
  if (isSystemError(e)) {
    return {
      code: 'device_error',
      message: e.message,
      errno: e.code,
      ...(e.syscall ? { syscall: e.syscall } : {}),
      ...(e.path ? { path: e.path } : {}),
    };
  }
  return { code: 'device_error', message: e instanceof Error ? e.message : String(e) };
}

/** Whether an error means the device itself has gone (reopen later) rather than one command failing. */
export function isDisconnect(e: unknown): boolean {
  if (e instanceof KernelError) return e.disconnected;
  if (e instanceof CommandError) return e.extra.disconnected === true;
  return isSystemError(e) && (e.code === 'ENOENT' || e.code === 'ENODEV' || e.code === 'ENXIO');
}
