/**
 * Notices a broker that has stopped acknowledging while the TCP connection
 * (and its keepalive) stays up. A clustered broker does this: nats-server
 * answers no PUBACK for a QoS 1 publish it could not store while its
 * JetStream leader is being re-elected, and never sends one later. MQTT
 * resends an unacknowledged publish only on a new connection, so the one way
 * to get it through is to reconnect — to the next server.
 *
 * Progress, not age: a long backlog being acknowledged steadily is healthy;
 * nothing acknowledged for `timeoutMs` while something waits is not.
 */
export class AckWatchdog {
  #waiting = 0;
  /** When the clock started: the last acknowledgement, the first publish of a burst, or the connect. */
  #since = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #verdict: NodeJS.Immediate | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly stalled: (waitedMs: number) => void,
  ) {}

  /** A publish or subscribe now waits for its acknowledgement. */
  sent(): void {
    if (this.#waiting++ === 0) this.#since = performance.now();
  }

  /** Its acknowledgement came (or it failed: either way it no longer waits). */
  acked(): void {
    this.#waiting = Math.max(0, this.#waiting - 1);
    this.#since = performance.now();
  }

  /** Connected (again): what waits is sent again now, so the clock starts over. */
  connected(): void {
    this.#since = performance.now();
    if (this.timeoutMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => this.#check(), Math.max(50, Math.min(1000, this.timeoutMs / 4)));
    this.#timer.unref?.();
  }

  disconnected(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#verdict);
    this.#verdict = undefined;
  }

  #overdue(): boolean {
    return this.#waiting > 0 && performance.now() - this.#since > this.timeoutMs;
  }

  #check(): void {
    if (!this.#overdue() || this.#verdict) return;
    // Timers run before the loop reads its sockets: after a turn held past the timeout (GC, a busy
    // process of many agents) the acknowledgements may be sitting unread. Decide after this
    // iteration's I/O has been read, not before.
    this.#verdict = setImmediate(() => {
      this.#verdict = undefined;
      if (!this.#timer || !this.#overdue()) return;
      const waited = performance.now() - this.#since;
      this.disconnected();
      this.stalled(waited);
    });
  }
}
