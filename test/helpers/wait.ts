/**
 * Waiting for something the code under test does on its own (a modem's line
 * event, a rewind in flight, a journal line): the event loop is polled, so
 * nothing waits longer than the event takes. The deadline, for an idle
 * machine and stretched (deadline.ts), only decides when an event that never
 * came is reported, and says which.
 */
import { deadline } from './deadline.js';

/** Resolves with the first value `get` gives that is neither undefined nor false. */
export async function until<T>(get: () => T | undefined | false, what: string, idleMs = 10_000): Promise<T> {
  const end = Date.now() + deadline(idleMs);
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not there after ${deadline(idleMs) / 1000} s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
