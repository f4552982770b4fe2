/**
 * The modem control lines of a simulated UART, answering the requests a pty
 * refuses (ENOTTY) the way drivers/tty/serial/serial_core.c does:
 *  - TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC take a pointer to an int of TIOCM_*
 *    bits; only DTR and RTS (and OUT1/OUT2/LOOP, not modelled) can be set;
 *  - TIOCGICOUNT fills a serial_icounter_struct: cts/dsr/dcd count every
 *    change of their line, rng only the trailing edge of RI (the 8250's TERI),
 *    rx/tx the bytes through the UART;
 *  - TIOCMIWAIT takes the mask by value and returns 0 once a counter under the
 *    mask moved since the call began; after a hangup (unplug) it and every
 *    other request fail with EIO, as hung_up_tty_ioctl does;
 *  - a bad pointer is EFAULT.
 */
import type { Arch } from '../../../kernel/arch.js';
import { encode, intArg, readInt } from '../../../kernel/codec.js';
import { KernelError } from '../../../kernel/errors.js';
import { serial_icounter_struct, type SerialIcounter } from '../../../kernel/structs.js';
import { modemBits } from '../../../kernel/termbits.js';

export type HostLine = 'dtr' | 'rts';
export type ModemLine = 'cts' | 'dsr' | 'cd' | 'ri';

type Counters = Pick<SerialIcounter, 'cts' | 'dsr' | 'rng' | 'dcd' | 'rx' | 'tx'>;

interface Waiter {
  readonly mask: number;
  readonly start: Counters;
  resolve(): void;
  reject(e: KernelError): void;
}

export class SimLines {
  readonly #arch: Arch;
  readonly #level: Record<HostLine | ModemLine, boolean> = { dtr: false, rts: false, cts: true, dsr: true, cd: false, ri: false };
  readonly #count: Counters = { cts: 0, dsr: 0, rng: 0, dcd: 0, rx: 0, tx: 0 };
  readonly #waiters = new Set<Waiter>();
  #hungUp = false;
  /** The modem's side hears about DTR/RTS changes (dropping DTR ends a call). */
  onHostChange: (line: HostLine, on: boolean) => void = () => undefined;

  constructor(arch: Arch) {
    this.#arch = arch;
  }

  get hungUp(): boolean {
    return this.#hungUp;
  }

  level(line: HostLine | ModemLine): boolean {
    return this.#level[line];
  }

  /** The modem moves one of its lines. */
  setModemLine(line: ModemLine, on: boolean): void {
    if (this.#hungUp || this.#level[line] === on) return;
    this.#level[line] = on;
    if (line === 'cts') this.#count.cts++;
    else if (line === 'dsr') this.#count.dsr++;
    else if (line === 'cd') this.#count.dcd++;
    else if (!on) this.#count.rng++;
    this.#wake();
  }

  /** Bytes through the UART: `rx` towards the host, `tx` from it. */
  countBytes(dir: 'rx' | 'tx', n: number): void {
    this.#count[dir] += n;
  }

  /** tty_port open raises DTR and RTS; the last close with HUPCL drops them. */
  hostOpen(): void {
    this.#setHost({ dtr: true, rts: true });
  }
  hostClose(): void {
    this.#setHost({ dtr: false, rts: false });
  }

  /** The device is gone: every waiter and every later request fails with EIO. */
  hangUp(): void {
    this.#hungUp = true;
    for (const w of [...this.#waiters]) w.reject(KernelError.of('EIO', { syscall: 'ioctl', request: 'TIOCMIWAIT' }));
    this.#waiters.clear();
  }

  // ---- the requests, by name (the sim kernel routes them here) -------------------

  tiocmget(arg: unknown): void {
    const m = modemBits(this.#arch);
    const l = this.#level;
    const v = (l.dtr ? m.DTR : 0) | (l.rts ? m.RTS : 0) | (l.cts ? m.CTS : 0) | (l.dsr ? m.DSR : 0) | (l.cd ? m.CD : 0) | (l.ri ? m.RI : 0);
    intArg(this.#arch, v).copy(this.#intPointer(arg));
  }

  /** TIOCMSET (`set` every settable bit as given), TIOCMBIS (raise those given), TIOCMBIC (drop those given). */
  tiocmset(how: 'set' | 'bis' | 'bic', arg: unknown): void {
    const m = modemBits(this.#arch);
    const v = readInt(this.#arch, this.#intPointer(arg));
    const bits = { dtr: (v & m.DTR) !== 0, rts: (v & m.RTS) !== 0 };
    if (how === 'set') this.#setHost(bits);
    else {
      const to = how === 'bis';
      this.#setHost({ ...(bits.dtr ? { dtr: to } : {}), ...(bits.rts ? { rts: to } : {}) });
    }
  }

  tiocgicount(arg: unknown): void {
    if (!(arg instanceof Uint8Array)) throw KernelError.of('EFAULT', { syscall: 'ioctl', request: 'TIOCGICOUNT' });
    encode(serial_icounter_struct, this.#arch, { ...this.#count }, asBuffer(arg));
  }

  tiocmiwait(mask: unknown): Promise<void> {
    if (this.#hungUp) return Promise.reject(KernelError.of('EIO', { syscall: 'ioctl', request: 'TIOCMIWAIT' }));
    const m = typeof mask === 'number' ? mask : 0;
    return new Promise((resolve, reject) => {
      this.#waiters.add({ mask: m, start: { ...this.#count }, resolve, reject });
    });
  }

  #setHost(want: Partial<Record<HostLine, boolean>>): void {
    for (const line of ['dtr', 'rts'] as const) {
      const on = want[line];
      if (on === undefined || this.#level[line] === on) continue;
      this.#level[line] = on;
      this.onHostChange(line, on);
    }
  }

  #wake(): void {
    const m = modemBits(this.#arch);
    const c = this.#count;
    for (const w of [...this.#waiters]) {
      const moved =
        ((w.mask & m.RNG) !== 0 && c.rng !== w.start.rng) ||
        ((w.mask & m.DSR) !== 0 && c.dsr !== w.start.dsr) ||
        ((w.mask & m.CD) !== 0 && c.dcd !== w.start.dcd) ||
        ((w.mask & m.CTS) !== 0 && c.cts !== w.start.cts);
      if (moved) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  #intPointer(arg: unknown): Buffer {
    if (!(arg instanceof Uint8Array) || arg.length < 4) throw KernelError.of('EFAULT', { syscall: 'ioctl' });
    return asBuffer(arg);
  }
}

function asBuffer(a: Uint8Array): Buffer {
  return Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
