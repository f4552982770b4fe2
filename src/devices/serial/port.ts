/**
 * One open serial port: the descriptor, its termios, and data I/O that never
 * blocks the event loop.
 *
 * How the bytes move — readiness from DeviceFile.watch (a uv_poll handle on
 * the descriptor, through koffi) plus non-blocking read(2)/write(2) on the
 * loop thread — was chosen by measurement (bench/serial-io.mjs; figures in
 * the README) against the two libuv alternatives. On a pty, which moves bytes
 * far faster than any UART, all three answer an 8-byte line alike (p50 about
 * 50 µs, p99 about 100 µs); a libuv tty stream (tty.ReadStream on the fd) has
 * more throughput (about 90 against 60 MiB/s) and a fifth less CPU per MiB,
 * fs reads on the thread pool the most CPU. At serial speeds that difference
 * is noise (115200 baud is 11 KiB/s: about 0.1 ms of CPU a second). What
 * decides it:
 *  - the tty stream re-opens the tty by its name and dup2()s the new open
 *    file over our descriptor (the bench sees the descriptor's flags change);
 *    for a non-root user an exclusive (TIOCEXCL) port refuses that re-open
 *    with EBUSY and libuv falls back to blocking writes;
 *  - thread-pool reads hold one pool thread per idle port, for ever;
 *  - net.Socket refuses a tty descriptor outright.
 * uv_poll keeps our one descriptor, its flags and exclusivity, lets every
 * failure reach us with its errno (EIO after a hangup), and is what
 * node-serialport's own binding does.
 */
import type { Arch } from '../../kernel/arch.js';
import { intArg, readInt } from '../../kernel/codec.js';
import { KernelError } from '../../kernel/errors.js';
import { O, type DeviceFile, type Kernel, type Watch } from '../../kernel/kernel.js';
import { catalogue, type Catalogue } from '../../kernel/requests.js';
import type { Termios2 } from '../../kernel/structs.js';
import { TCFLUSH } from '../../kernel/termbits.js';
import type { LineSettings } from './options.js';
import { PortTermios, type TermiosInterface } from './termios-io.js';

export interface PortStats {
  rxBytes: number;
  txBytes: number;
}

export interface PortHandlers {
  /** Bytes arrived (the buffer is the callee's to keep). */
  data(chunk: Buffer): void;
  /** The port is gone (hung up, unplugged); called once, after I/O has stopped. */
  lost(err: KernelError): void;
}

export type FlushQueue = 'in' | 'out' | 'both';

const READ_CHUNK = 4096;
/** Reads per wake-up before yielding to the loop; the watch is level-triggered and fires again. */
const READS_PER_WAKE = 64;
/** How long close waits for queued output to drain before it discards it. */
const CLOSE_DRAIN_MS = 2000;

interface PendingWrite {
  readonly data: Uint8Array;
  offset: number;
  resolve(): void;
  reject(e: Error): void;
}

export class SerialPort {
  readonly file: DeviceFile;
  readonly #arch: Arch;
  readonly #cat: Catalogue;
  readonly #handlers: PortHandlers;
  readonly #stats: PortStats;
  readonly #exclusive: boolean;
  readonly #termios: PortTermios;
  readonly #original: Termios2;
  readonly #readBuf = Buffer.alloc(READ_CHUNK);
  readonly #writes: PendingWrite[] = [];
  #readWatch: Watch | undefined;
  #writeWatch: Watch | undefined;
  #dead: KernelError | undefined;
  #closed = false;

  private constructor(file: DeviceFile, arch: Arch, opts: { exclusive: boolean; handlers: PortHandlers; stats: PortStats }) {
    this.file = file;
    this.#arch = arch;
    this.#cat = catalogue(arch);
    this.#handlers = opts.handlers;
    this.#stats = opts.stats;
    this.#exclusive = opts.exclusive;
    const { termios, current } = PortTermios.open(file, arch);
    this.#termios = termios;
    this.#original = current;
  }

  /**
   * Opens `path` without becoming its controlling terminal and without waiting
   * for carrier, takes it exclusively (unless told not to), remembers its
   * termios for close, and puts it in raw mode with `settings`.
   */
  static open(
    kernel: Kernel,
    path: string,
    settings: LineSettings,
    opts: { exclusive: boolean; handlers: PortHandlers; stats: PortStats },
  ): { port: SerialPort; applied: LineSettings; adjusted: string[] } {
    const file = kernel.open(path, O.RDWR | O.NOCTTY | O.NONBLOCK | O.CLOEXEC);
    let exclusive = false;
    try {
      const port = new SerialPort(file, kernel.arch, opts);
      if (opts.exclusive) {
        file.ioctl(port.#cat.get('TIOCEXCL'));
        exclusive = true;
      }
      const { applied, adjusted } = port.#termios.apply(settings);
      port.#readWatch = file.watch({ readable: true }, () => port.#onReadable());
      return { port, applied, adjusted };
    } catch (e) {
      // TIOCEXCL marks the tty, not our descriptor: while anyone else holds the tty (a pty's master) it outlives
      // our close and makes every later open but root's EBUSY, the retry of this one included.
      try {
        if (exclusive) file.ioctl(catalogue(kernel.arch).get('TIOCNXCL'));
      } catch {
        // A tty that hung up meanwhile has no exclusivity left to give back.
      }
      file.close();
      throw e;
    }
  }

  get path(): string {
    return this.file.path;
  }
  get alive(): boolean {
    return !this.#closed && !this.#dead;
  }

  /** termios2, or plain termios where the kernel refused termios2 (then only standard rates). */
  get termios(): TermiosInterface {
    return this.#termios.interface;
  }

  /** Why the port is on plain termios (e.g. "TCGETS2 answered ENOSYS"), if it fell back. */
  get termiosFallback(): string | undefined {
    return this.#termios.fallbackReason;
  }

  configure(settings: LineSettings): { applied: LineSettings; adjusted: string[] } {
    this.#check();
    return this.#termios.apply(settings);
  }

  /** Resolves once every byte is in the kernel's output queue (not yet on the wire: see `drain`). */
  write(data: Uint8Array): Promise<void> {
    this.#check();
    if (data.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#writes.push({ data, offset: 0, resolve, reject });
      if (this.#writes.length === 1) this.#pumpWrites();
    });
  }

  /** tcdrain: waits (off the loop) until the output queue is on the wire. TCSBRK with 1 is tcdrain, not a break. */
  async drain(): Promise<void> {
    this.#check();
    await this.file.ioctlBlocking(this.#cat.get('TCSBRK'), 1);
  }

  /** Bytes received but not read yet (FIONREAD). */
  inQueue(): number {
    return this.#intQuery('FIONREAD');
  }
  /** Bytes written but not sent yet (TIOCOUTQ). */
  outQueue(): number {
    return this.#intQuery('TIOCOUTQ');
  }

  flush(queue: FlushQueue): void {
    this.#check();
    const selector = queue === 'in' ? TCFLUSH.IN : queue === 'out' ? TCFLUSH.OUT : TCFLUSH.BOTH;
    this.file.ioctl(this.#cat.get('TCFLSH'), selector);
  }

  /** A break of the driver's standard length (TCSBRK 0: 0.25–0.5 s), off the loop. */
  async sendBreak(): Promise<void> {
    this.#check();
    await this.file.ioctlBlocking(this.#cat.get('TCSBRK'), 0);
  }

  /** Starts (TIOCSBRK) or ends (TIOCCBRK) a break of our own length. */
  setBreak(on: boolean): void {
    this.#check();
    this.file.ioctl(this.#cat.get(on ? 'TIOCSBRK' : 'TIOCCBRK'));
  }

  /**
   * Gives the port back as we found it: output drained (for at most two
   * seconds), the original termios, exclusivity released (a waiter still
   * holding the file in TIOCMIWAIT must not make the next open EBUSY), closed.
   * Never throws: a port that is already gone has nothing left to restore.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopIo(new Error(`port ${this.path} closed`));
    if (!this.#dead) {
      await this.#restore().catch(() => undefined);
    }
    try {
      this.file.close();
    } catch {
      // EIO from close on a hung-up tty: the descriptor is released all the same.
    }
  }

  async #restore(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = this.#termios.writeDrained(this.#original).then(
      () => true,
      () => false,
    );
    const waited = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), CLOSE_DRAIN_MS);
    });
    const ok = await Promise.race([drained, waited]);
    clearTimeout(timer);
    if (!ok) {
      // Flow control stuck or a dead line: discard the rest (which also wakes the blocked drain).
      this.file.ioctl(this.#cat.get('TCFLSH'), TCFLUSH.OUT);
      this.#termios.write(this.#original);
    }
    if (this.#exclusive) this.file.ioctl(this.#cat.get('TIOCNXCL'));
  }

  #check(): void {
    if (this.#dead) throw this.#dead;
    if (this.#closed) throw KernelError.of('EBADF', { syscall: 'ioctl', path: this.path });
  }

  #intQuery(name: 'FIONREAD' | 'TIOCOUTQ'): number {
    this.#check();
    const n = intArg(this.#arch);
    this.file.ioctl(this.#cat.get(name), n);
    return readInt(this.#arch, n);
  }

  #onReadable(): void {
    for (let i = 0; i < READS_PER_WAKE && this.alive; i++) {
      let n: number | null;
      try {
        n = this.file.read(this.#readBuf);
      } catch (e) {
        this.#lose(asDisconnect(e, this.path));
        return;
      }
      if (n === null) return;
      if (n === 0) {
        // A tty reads end-of-file only once it has been hung up: the device is gone.
        this.#lose(KernelError.of('EIO', { syscall: 'read', path: this.path, disconnected: true }));
        return;
      }
      this.#stats.rxBytes += n;
      this.#handlers.data(Buffer.from(this.#readBuf.subarray(0, n)));
    }
  }

  #pumpWrites(): void {
    while (this.#writes.length && this.alive) {
      const w = this.#writes[0] as PendingWrite;
      let n: number | null;
      try {
        n = this.file.write(w.data.subarray(w.offset));
      } catch (e) {
        this.#lose(asDisconnect(e, this.path));
        return;
      }
      if (n === null) {
        this.#writeWatch ??= this.file.watch({ readable: false, writable: true }, () => this.#pumpWrites());
        return;
      }
      this.#stats.txBytes += n;
      w.offset += n;
      if (w.offset >= w.data.length) {
        this.#writes.shift();
        w.resolve();
      }
    }
    this.#writeWatch?.stop();
    this.#writeWatch = undefined;
  }

  #stopIo(reason: Error): void {
    this.#readWatch?.stop();
    this.#readWatch = undefined;
    this.#writeWatch?.stop();
    this.#writeWatch = undefined;
    for (const w of this.#writes.splice(0)) w.reject(reason);
  }

  #lose(err: KernelError): void {
    if (this.#dead || this.#closed) return;
    this.#dead = err;
    this.#stopIo(err);
    this.#handlers.lost(err);
  }
}

/** Any I/O failure on an open tty means it is no longer usable: EIO after hangup, ENODEV/ENXIO after unplug. */
function asDisconnect(e: unknown, path: string): KernelError {
  if (e instanceof KernelError) {
    return e.disconnected
      ? e
      : new KernelError({ errno: e.errno, syscall: e.syscall, path: e.path ?? path, request: e.request, disconnected: true });
  }
  return KernelError.of('EIO', { syscall: 'read', path, disconnected: true });
}
