/**
 * "Equal jitter" exponential backoff: the cap doubles from `minMs` up to
 * `maxMs` with each attempt, and the delay is random in its upper half — never
 * at once (a fleet must not stampede a restarted broker or bus), never longer
 * than the cap.
 */
export function backoffDelayMs(minMs: number, maxMs: number, attempt: number): number {
  const cap = Math.min(maxMs, minMs * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}
