/**
 * The modem control lines: DTR/RTS out, CTS/DSR/CD/RI in. Reads and writes
 * are short ioctls (TIOCMGET, TIOCMBIS, TIOCMBIC); waiting for a change is
 * TIOCMIWAIT, which blocks until an input line moves, so it runs off the event
 * loop, and TIOCGICOUNT's per-line counters then say which lines moved (two
 * edges between waits still count as a change, where comparing TIOCMGET
 * snapshots would miss them).
 *
 * ptys and some USB adapters have no modem lines: TIOCM* and TIOCMIWAIT give
 * ENOTTY there (EINVAL on older kernels). The watcher then stops for good
 * instead of spinning; `lines` still reports the kernel's error to the user.
 */
import type { Arch } from '../../kernel/arch.js';
import { alloc, decode, intArg, readInt } from '../../kernel/codec.js';
import { isKernelError, KernelError } from '../../kernel/errors.js';
import type { DeviceFile } from '../../kernel/kernel.js';
import { catalogue, type Catalogue } from '../../kernel/requests.js';
import { serial_icounter_struct } from '../../kernel/structs.js';
import { modemBits } from '../../kernel/termbits.js';

export interface Lines {
  readonly dtr: boolean;
  readonly rts: boolean;
  readonly cts: boolean;
  readonly dsr: boolean;
  readonly cd: boolean;
  readonly ri: boolean;
}

/** TIOCGICOUNT: transitions per input line and the UART's own byte and error counts. */
export interface LineCounters {
  readonly cts: number;
  readonly dsr: number;
  readonly rng: number;
  readonly dcd: number;
  readonly rx: number;
  readonly tx: number;
  readonly frame: number;
  readonly overrun: number;
  readonly parity: number;
  readonly brk: number;
  readonly bufOverrun: number;
}

export type InputLine = 'cts' | 'dsr' | 'cd' | 'ri';

export interface LinesChange {
  readonly changed: InputLine[];
  readonly lines: Lines | null;
  readonly counters: LineCounters | null;
}

/** "This device has no such request": what a pty or a line-less adapter says. */
export function isUnsupported(e: unknown): boolean {
  return isKernelError(e, 'ENOTTY') || isKernelError(e, 'EINVAL');
}

export class ModemLines {
  readonly #file: DeviceFile;
  readonly #arch: Arch;
  readonly #cat: Catalogue;
  #watching = false;
  #countersUnsupported = false;

  constructor(file: DeviceFile, arch: Arch) {
    this.#file = file;
    this.#arch = arch;
    this.#cat = catalogue(arch);
  }

  get(): Lines {
    const m = modemBits(this.#arch);
    const buf = intArg(this.#arch);
    this.#file.ioctl(this.#cat.get('TIOCMGET'), buf);
    const v = readInt(this.#arch, buf);
    return { dtr: !!(v & m.DTR), rts: !!(v & m.RTS), cts: !!(v & m.CTS), dsr: !!(v & m.DSR), cd: !!(v & m.CD), ri: !!(v & m.RI) };
  }

  /** Raises the lines set true (TIOCMBIS) and drops those set false (TIOCMBIC); others stay as they are. */
  set(want: { dtr?: boolean | undefined; rts?: boolean | undefined }): Lines {
    const m = modemBits(this.#arch);
    let on = 0;
    let off = 0;
    if (want.dtr === true) on |= m.DTR;
    else if (want.dtr === false) off |= m.DTR;
    if (want.rts === true) on |= m.RTS;
    else if (want.rts === false) off |= m.RTS;
    if (on) this.#file.ioctl(this.#cat.get('TIOCMBIS'), intArg(this.#arch, on));
    if (off) this.#file.ioctl(this.#cat.get('TIOCMBIC'), intArg(this.#arch, off));
    return this.get();
  }

  /** TIOCGICOUNT, or null where the driver has no counters. */
  counters(): LineCounters | null {
    if (this.#countersUnsupported) return null;
    const buf = alloc(serial_icounter_struct, this.#arch);
    try {
      this.#file.ioctl(this.#cat.get('TIOCGICOUNT'), buf);
    } catch (e) {
      if (isUnsupported(e)) {
        this.#countersUnsupported = true;
        return null;
      }
      throw e;
    }
    const c = decode(serial_icounter_struct, this.#arch, buf);
    return {
      cts: c.cts,
      dsr: c.dsr,
      rng: c.rng,
      dcd: c.dcd,
      rx: c.rx,
      tx: c.tx,
      frame: c.frame,
      overrun: c.overrun,
      parity: c.parity,
      brk: c.brk,
      bufOverrun: c.buf_overrun,
    };
  }

  /**
   * Waits for input line changes until `stop` is called or the port fails,
   * calling `onChange` for each. Resolves with why it ended. A TIOCMIWAIT in
   * flight when `stop` is called keeps its pool thread until the next line
   * change or hangup (the kernel offers no way to wake it); its answer is
   * then dropped.
   */
  async watch(onChange: (c: LinesChange) => void): Promise<'stopped' | 'unsupported' | KernelError> {
    const m = modemBits(this.#arch);
    const mask = m.CTS | m.DSR | m.CD | m.RI;
    this.#watching = true;
    let before = this.#safeCounters();
    let linesBefore = this.#safeLines();
    let idleWakes = 0;
    while (this.#watching) {
      try {
        await this.#file.ioctlBlocking(this.#cat.get('TIOCMIWAIT'), mask);
      } catch (e) {
        if (!this.#watching) return 'stopped';
        if (isUnsupported(e)) return 'unsupported';
        if (isKernelError(e, 'EINTR')) continue;
        return e instanceof KernelError ? e : KernelError.of('EIO', { syscall: 'ioctl', path: this.#file.path, request: 'TIOCMIWAIT' });
      }
      if (!this.#watching) return 'stopped';
      const after = this.#safeCounters();
      const linesAfter = this.#safeLines();
      const changed = whichChanged(before, after, linesBefore, linesAfter);
      before = after;
      linesBefore = linesAfter;
      if (changed.length) {
        idleWakes = 0;
        onChange({ changed, lines: linesAfter, counters: after });
      } else if (++idleWakes >= MAX_IDLE_WAKES) {
        // A driver whose TIOCMIWAIT returns without any line moving would have us spin on the pool.
        return KernelError.of('EINVAL', { syscall: 'ioctl', path: this.#file.path, request: 'TIOCMIWAIT' });
      }
    }
    return 'stopped';
  }

  stop(): void {
    this.#watching = false;
  }

  #safeCounters(): LineCounters | null {
    try {
      return this.counters();
    } catch {
      return null;
    }
  }

  #safeLines(): Lines | null {
    try {
      return this.get();
    } catch {
      return null;
    }
  }
}

/** Wakes in a row that show no line change before the watcher gives up on the driver. */
const MAX_IDLE_WAKES = 64;

const COUNTER_OF: Record<InputLine, keyof LineCounters> = { cts: 'cts', dsr: 'dsr', cd: 'dcd', ri: 'rng' };
const INPUTS: readonly InputLine[] = ['cts', 'dsr', 'cd', 'ri'];

/** Counters when both snapshots have them (they see every edge); line levels otherwise. */
export function whichChanged(before: LineCounters | null, after: LineCounters | null, lb: Lines | null, la: Lines | null): InputLine[] {
  if (before && after) return INPUTS.filter((l) => before[COUNTER_OF[l]] !== after[COUNTER_OF[l]]);
  if (lb && la) return INPUTS.filter((l) => lb[l] !== la[l]);
  return [];
}
