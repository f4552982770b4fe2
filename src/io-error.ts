/** A failed file operation in words: what the journal and the log output say when storage refuses them. */
import { isSystemError } from './devices/errors.js';
import { errnoMessage, errnoNumber } from './kernel/errno.js';

/** The errno name of a system error (`ENOSPC`, `EIO` …), else undefined. */
export const errnoOf = (e: unknown): string | undefined => (isSystemError(e) ? e.code : undefined);

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
