/**
 * The st model behind the kernel seam: a Kernel whose device files answer
 * MTIOCTOP, MTIOCGET and MTIOCPOS with the same struct buffers (laid out for
 * `arch`) and the same errno values as drivers/scsi/st.c, and read/write
 * with tape records. Request numbers are decoded as the kernel decodes them,
 * so a `struct mtget` of the wrong size is EINVAL here as it is there.
 *
 * Time: the *Blocking calls take the modelled drive's time on a timer, so
 * the event loop runs on; the synchronous calls block the thread for that
 * time, as a real syscall would. One call runs at a time (st's mutex);
 * blocking calls queue. A synchronous call while a blocking one is in flight
 * cannot wait on the event loop it would block, so it fails with EBUSY
 * instead (the one place the model differs from the driver, by necessity).
 */
import path from 'node:path';
import type { Arch } from '../../../kernel/arch.js';
import { decode as decodeStruct, encode } from '../../../kernel/codec.js';
import { sizeOf } from '../../../kernel/ctypes.js';
import { KernelError, type Syscall } from '../../../kernel/errors.js';
import { decode as decodeRequest } from '../../../kernel/ioc.js';
import { O, type DeviceFile, type IoctlArg, type Kernel } from '../../../kernel/kernel.js';
import type { IoctlRequest } from '../../../kernel/requests.js';
import { mtget, mtop, mtpos } from '../../../kernel/structs.js';
import { mtOpName } from '../mtio.js';
import { Faults } from './faults.js';
import { StModel, type StModelOptions } from './st.js';
import { SimTapeFile } from './file.js';
import { StErrno } from './st-state.js';
import { opDuration, transferDuration, type SimTiming } from './timing.js';

const M = 'm'.charCodeAt(0);

export interface SimTapeOptions extends StModelOptions {
  /** The non-rewinding node the model answers to; its rewinding twin (/dev/stN) opens the same drive. */
  readonly devicePath: string;
  readonly imageFile: string;
  readonly timing: SimTiming;
  readonly arch: Arch;
  /** `faults.json` to watch (see faults.ts). */
  readonly faultsFile?: string;
}

/** Blocks this thread, as a syscall that waits for the drive would. */
function blockFor(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class SimTapeKernel implements Kernel {
  readonly name = 'sim:st';
  readonly arch: Arch;
  #model: StModel | undefined;
  readonly faults: Faults;
  readonly timing: SimTiming;
  readonly #paths: ReadonlySet<string>;
  readonly #rewinding: string;
  #queue: Promise<unknown> = Promise.resolve();
  #inFlight: string | null = null;
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #hurry = false;
  #nextFd = 1000;

  /**
   * `signal`: when the owner stops (the agent shutting down), simulated waits
   * end at once and their operations complete, as a real drive finishes a
   * rewind whether or not anyone still waits for it.
   */
  constructor(
    readonly opts: SimTapeOptions,
    signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', () => this.finishNow(), { once: true });
    this.arch = opts.arch;
    this.timing = opts.timing;
    this.faults = new Faults(opts.faultsFile);
    const dir = path.dirname(opts.devicePath);
    const base = path.basename(opts.devicePath).replace(/^n?st/, '');
    this.#rewinding = path.join(dir, `st${base}`);
    this.#paths = new Set([path.join(dir, `nst${base}`), this.#rewinding, opts.devicePath]);
  }

  /**
   * The drive and its cartridge, read from the image file at the first open, not
   * before: an image that cannot be opened (a read-only or full stateDir) fails
   * that open with the errno, the device stays offline and is reopened with
   * backoff, and the agent starts regardless.
   */
  get model(): StModel {
    this.#model ??= new StModel(this.opts.imageFile, this.opts);
    return this.#model;
  }

  /** What a blocking call is doing right now (`MTREW`, `read` …), or null. */
  get inFlight(): string | null {
    return this.#inFlight;
  }

  open(p: string, flags: number): DeviceFile {
    if (!this.#paths.has(p)) throw KernelError.of('ENOENT', { syscall: 'open', path: p });
    this.#fault(['open'], 'open', p);
    const acc = flags & 3;
    try {
      this.model.open({
        accMode: acc === O.RDONLY ? 'r' : acc === O.WRONLY ? 'w' : 'rw',
        nonblock: (flags & O.NONBLOCK) !== 0,
        rewinding: p === this.#rewinding,
      });
    } catch (e) {
      throw this.#error(e, 'open', p);
    }
    return new SimTapeFile(this, this.#nextFd++, p);
  }

  adopt(_fd: number, p: string): DeviceFile {
    throw KernelError.of('EBADF', { syscall: 'ioctl', path: p });
  }

  /** Ends every simulated wait now, and all later ones at once: the operations complete without their time. */
  finishNow(): void {
    this.#hurry = true;
    for (const t of this.#timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.#timers.clear();
  }

  dispose(): void {
    this.finishNow();
    this.#model?.dispose();
  }

  #fault(points: string[], syscall: Syscall, p: string, request?: string): void {
    const hit = this.faults.take(points);
    if (!hit) return;
    if ('recovered' in hit) this.model.noteRecoveredError();
    else throw KernelError.of(hit.errno, { syscall, path: p, request });
  }

  #error(e: unknown, syscall: Syscall, p: string, request?: string): unknown {
    return e instanceof StErrno ? KernelError.of(e.errno, { syscall, path: p, request }) : e;
  }

  /** Runs one call against the model as the driver would: faults first, then the work. */
  call<T>(syscall: Syscall, p: string, points: string[], request: string | undefined, work: () => T): T {
    this.#fault(points, syscall, p, request);
    try {
      return work();
    } catch (e) {
      throw this.#error(e, syscall, p, request);
    }
  }

  /** A synchronous call: blocks the thread for the drive's time, as the syscall would. */
  sync<T>(syscall: Syscall, p: string, request: string | undefined, ms: number, work: () => T): T {
    if (this.#inFlight) throw KernelError.of('EBUSY', { syscall, path: p, request });
    blockFor(ms);
    return work();
  }

  /**
   * Queues a blocking call behind any in flight, waits the drive's time, then
   * does it. `after` gives time that depends on the result (a read takes as
   * long as the record it got, not the buffer it offered).
   */
  blocking<T>(label: string, duration: () => number, work: () => T, after?: (result: T) => number): Promise<T> {
    const run = async (): Promise<T> => {
      this.#inFlight = label;
      try {
        const ms = duration();
        if (ms > 0) await this.#sleep(ms);
        const result = work();
        const more = after?.(result) ?? 0;
        if (more > 0) await this.#sleep(more);
        return result;
      } finally {
        this.#inFlight = null;
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#hurry) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.#timers.add(entry);
    });
  }

  /** The MTIOCTOP/MTIOCGET/MTIOCPOS dispatch of st_ioctl, on this model's ABI. */
  ioctlNow(file: SimTapeFile, req: IoctlRequest, arg: IoctlArg): number {
    const d = decodeRequest(this.arch, req.value);
    const name = req.name;
    const buf = (): Buffer => {
      if (!Buffer.isBuffer(arg)) throw KernelError.of('EFAULT', { syscall: 'ioctl', path: file.path, request: name });
      return arg;
    };
    if (d.type !== M || d.nr < 1 || d.nr > 3) throw KernelError.of('ENOTTY', { syscall: 'ioctl', path: file.path, request: name });
    const def = d.nr === 1 ? mtop : d.nr === 2 ? mtget : mtpos;
    if (d.size !== sizeOf(def, this.arch)) throw KernelError.of('EINVAL', { syscall: 'ioctl', path: file.path, request: name });
    const b = buf();
    if (b.length < d.size) throw KernelError.of('EFAULT', { syscall: 'ioctl', path: file.path, request: name });
    if (d.nr === 1) {
      const { mt_op, mt_count } = decodeStruct(mtop, this.arch, b);
      return this.call('ioctl', file.path, ['MTIOCTOP', mtOpName(mt_op)], name, () => {
        this.model.op(mt_op, mt_count);
        return 0;
      });
    }
    if (d.nr === 2) {
      return this.call('ioctl', file.path, ['MTIOCGET'], name, () => {
        encode(mtget, this.arch, this.model.status(), b);
        return 0;
      });
    }
    return this.call('ioctl', file.path, ['MTIOCPOS'], name, () => {
      encode(mtpos, this.arch, { mt_blkno: this.model.position() }, b);
      return 0;
    });
  }

  /** How long an ioctl takes on the modelled drive. */
  ioctlDuration(req: IoctlRequest, arg: IoctlArg): number {
    const d = decodeRequest(this.arch, req.value);
    if (d.type !== M || d.nr !== 1 || !Buffer.isBuffer(arg) || d.size !== sizeOf(mtop, this.arch)) return 0;
    const { mt_op, mt_count } = decodeStruct(mtop, this.arch, arg);
    const ds = this.model.drive.s;
    return opDuration(this.timing, mt_op, mt_count, ds.pos === 0, ds.loaded && this.model.s.ready === 'ready');
  }

  ioctlLabel(req: IoctlRequest, arg: IoctlArg): string {
    if (req.name !== 'MTIOCTOP' || !Buffer.isBuffer(arg) || arg.length < sizeOf(mtop, this.arch)) return req.name;
    return mtOpName(decodeStruct(mtop, this.arch, arg).mt_op);
  }

  transferMs(bytes: number): number {
    return transferDuration(this.timing, bytes);
  }
}
