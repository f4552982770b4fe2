/** A failed file operation in words: what the journal and the log output say when storage refuses them. */
import { isSystemError } from './devices/errors.js';
import { errnoMessage, errnoName, errnoNumber } from './kernel/errno.js';

/**
 * The errno name of a system error (`ENOSPC`, `EIO` …), else undefined. libuv names only the errnos it
 * knows: a damaged filesystem's EUCLEAN or EBADMSG comes as code `Unknown system error -117`, and only its
 * (negative) `errno` number tells which.
 */
export function errnoOf(e: unknown): string | undefined {
  if (isSystemError(e)) return e.code;
  const n = e instanceof Error ? (e as { errno?: unknown }).errno : undefined;
  return typeof n === 'number' && Number.isInteger(n) && n < 0 ? errnoName(-n) : undefined;
}

/** `ENOSPC (no space left on device)`, or the error's message when it carries no errno. */
export function describeIoError(e: unknown): string {
  const errno = errnoOf(e);
  if (!errno) return e instanceof Error ? e.message : String(e);
  try {
    return `${errno} (${errnoMessage(errnoNumber(errno))})`;
  } catch {
    return errno;
  }
}
