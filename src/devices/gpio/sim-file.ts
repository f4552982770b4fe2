/**
 * The DeviceFile side every sim file shares: EBADF after close, readiness
 * reported on the event loop (level-triggered, like libuv's poll handle: a
 * file that stays readable is reported again on the next turn until it is
 * read), and the blocking calls built on that readiness instead of a thread.
 */
import { KernelError, type Syscall } from '../../kernel/errors.js';
import { POLL, type DeviceFile, type IoctlArg, type ReadyEvents, type Watch, type WatchOptions } from '../../kernel/kernel.js';
import type { IoctlRequest } from '../../kernel/requests.js';

interface WatchEntry {
  readonly opts: WatchOptions;
  readonly onReady: (ev: ReadyEvents) => void;
  scheduled: boolean;
  stopped: boolean;
}

export abstract class SimFile implements DeviceFile {
  #closed = false;
  readonly #watches = new Set<WatchEntry>();
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly path: string,
    readonly fd: number,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** What the file would report to poll(2) now. */
  protected abstract readiness(): ReadyEvents;
  abstract read(buf: Uint8Array, length?: number): number | null;
  abstract ioctl(req: IoctlRequest, arg?: IoctlArg): number;
  /** Releases what the file holds (a line request) once it is closed. */
  protected abstract released(): void;

  protected error(errno: string, syscall: Syscall, request?: IoctlRequest): KernelError {
    return KernelError.of(errno, { syscall, path: this.path, ...(request ? { request: request.name } : {}) });
  }

  protected checkOpen(syscall: Syscall, request?: IoctlRequest): void {
    if (this.#closed) throw this.error('EBADF', syscall, request);
  }

  write(_data: Uint8Array): number | null {
    this.checkOpen('write');
    // Neither a gpiochip nor a line request has a write operation: vfs_write says EINVAL.
    throw this.error('EINVAL', 'write');
  }

  async ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number> {
    return this.ioctl(req, arg);
  }

  async readBlocking(buf: Uint8Array, length?: number): Promise<number> {
    for (;;) {
      const n = this.read(buf, length);
      if (n !== null) return n;
      await this.#nextChange();
    }
  }

  async writeBlocking(data: Uint8Array): Promise<number> {
    return this.write(data) ?? 0;
  }

  async poll(events: number, timeoutMs: number): Promise<number> {
    const deadline = timeoutMs < 0 ? undefined : Date.now() + timeoutMs;
    for (;;) {
      this.checkOpen('poll');
      const r = this.readiness();
      const revents = (r.readable ? events & POLL.IN : 0) | (r.disconnect ? POLL.HUP | POLL.ERR : 0);
      if (revents) return revents;
      if (deadline !== undefined && Date.now() >= deadline) return 0;
      await this.#nextChange(deadline === undefined ? undefined : deadline - Date.now());
    }
  }

  watch(opts: WatchOptions, onReady: (ev: ReadyEvents) => void): Watch {
    this.checkOpen('poll');
    const entry: WatchEntry = { opts, onReady, scheduled: false, stopped: false };
    this.#watches.add(entry);
    this.kick();
    return {
      stop: () => {
        entry.stopped = true;
        this.#watches.delete(entry);
      },
    };
  }

  /** The model changed: wake blocking callers and schedule watch callbacks that now have something to report. */
  kick(): void {
    for (const wake of [...this.#waiters]) wake();
    for (const w of this.#watches) {
      if (w.scheduled) continue;
      w.scheduled = true;
      setImmediate(() => {
        w.scheduled = false;
        if (w.stopped || this.#closed) return;
        const r = this.readiness();
        const wanted = ((w.opts.readable ?? true) && r.readable) || ((w.opts.writable ?? false) && r.writable) || r.disconnect;
        if (!wanted) return;
        w.onReady(r);
        // Level-triggered: still ready after the callback → reported again next turn.
        if (!r.disconnect) this.kick();
      });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watches) w.stopped = true;
    this.#watches.clear();
    this.released();
    for (const wake of [...this.#waiters]) wake();
  }

  #nextChange(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, Math.max(0, timeoutMs));
      this.#waiters.add(done);
    });
  }
}
