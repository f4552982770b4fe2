/**
 * Talking to systemd when it runs us (Type=notify, WatchdogSec=): READY=1 once
 * the agent has started, WATCHDOG=1 every half watchdog period from the event
 * loop (so a stuck loop gets the service restarted; an unreachable broker
 * does not), STOPPING=1 on shutdown. Without $NOTIFY_SOCKET it does nothing.
 * The datagram itself goes through the kernel seam (kernel/libc-notify.ts).
 */
import type { Logger } from 'pino';

export type NotifySender = (socketPath: string, message: string) => void;

export interface ServiceNotifierOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly pid: number;
  readonly send: NotifySender;
  readonly log: Logger;
}

export class ServiceNotifier {
  readonly #o: ServiceNotifierOptions;
  readonly #socket: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failed = false;

  constructor(o: ServiceNotifierOptions) {
    this.#o = o;
    this.#socket = o.env.NOTIFY_SOCKET || undefined;
  }

  get active(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * The ping period: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises;
   * undefined when systemd set no watchdog or set it for another process.
   */
  watchdogMs(): number | undefined {
    const usec = Number(this.#o.env.WATCHDOG_USEC);
    if (!this.#socket || !Number.isFinite(usec) || usec <= 0) return undefined;
    const pid = this.#o.env.WATCHDOG_PID;
    if (pid && Number(pid) !== this.#o.pid) return undefined;
    return Math.max(1, Math.floor(usec / 2000));
  }

  ready(status: string): void {
    this.#notify(`READY=1\nSTATUS=${status}\nMAINPID=${this.#o.pid}`);
    const every = this.watchdogMs();
    if (every === undefined) return;
    this.#timer = setInterval(() => this.#notify('WATCHDOG=1'), every);
    this.#timer.unref();
  }

  stopping(): void {
    clearInterval(this.#timer);
    this.#notify('STOPPING=1');
  }

  #notify(message: string): void {
    if (!this.#socket) return;
    try {
      this.#o.send(this.#socket, message);
      this.#failed = false;
    } catch (e) {
      // Said once per run of failures: a missing socket must not flood the journal every few seconds.
      if (!this.#failed) this.#o.log.warn({ err: (e as Error).message }, 'cannot notify systemd');
      this.#failed = true;
    }
  }
}
