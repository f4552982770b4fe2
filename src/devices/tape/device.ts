/**
 * One tape drive as the agent holds it: the open device file, the last
 * status MTIOCGET gave, and what it is busy with. The state it publishes is
 * that status (the `mt status` fields) plus `busy: {command, sinceMs}` while
 * a command moves tape, so a dashboard sees "rewinding since …" instead of
 * silence.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DeviceFile } from '../../kernel/kernel.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { KernelError, isKernelError } from '../../kernel/errors.js';
import { CommandError, isDisconnect } from '../errors.js';
import type { TapeStatus } from './mtio.js';
import type { TapeOptions } from './options.js';
import { TapeIo } from './tape-io.js';

/** What holds the drive; `sinceMs` in the state is how long it has (the agent's own busy field means the same). */
interface Busy {
  readonly command: string;
  readonly started: number;
}

const SAMPLE = 'sample.bin';

export class TapeDevice implements Device {
  #io: TapeIo | null = null;
  #status: TapeStatus | null = null;
  #busy: Busy | null = null;
  #poll: Poll | undefined;

  constructor(readonly ctx: DeviceContext<TapeOptions>) {}

  get options(): TapeOptions {
    return this.ctx.options;
  }

  /** The open drive; commands only run while it is open, but say so clearly if not. */
  get io(): TapeIo {
    if (!this.#io) throw new CommandError('unavailable', `${this.ctx.id}: ${this.options.path} is not open`);
    return this.#io;
  }

  async open(): Promise<void> {
    if (this.ctx.sim && !this.options.filesDir) await this.#sampleFile();
    this.#io = TapeIo.open(this.ctx.kernel, this.options.path);
    this.refresh();
    const every = this.options.pollMs;
    // A moving drive reports its status at the end of the move (busyWhile); a poll would only queue behind it.
    if (every > 0)
      this.#poll = this.ctx.poll('status poll', every, async () => (this.#io ? this.refresh() : undefined), { idleOnly: true });
  }

  async close(): Promise<void> {
    this.#poll?.stop();
    this.#poll = undefined;
    const io = this.#io;
    this.#io = null;
    io?.close();
  }

  /** Reads MTIOCGET (cheap: st answers from its bookkeeping) and republishes the state if it changed. */
  refresh(): TapeStatus {
    try {
      this.#status = this.#readStatus();
    } catch (e) {
      if (isDisconnect(e)) this.ctx.lost(e as Error);
      throw e;
    }
    this.ctx.stateChanged();
    return this.#status;
  }

  /**
   * MTIOCGET, and what an EIO from it means. st reports a deferred write error
   * once, on the next MTIOCGET: that one is the command's error and the drive
   * stays usable. A drive that answers EIO to the status request twice in a
   * row cannot be used: the error is marked `disconnected`, so the agent takes
   * the drive offline and reopens it with backoff until it answers again.
   */
  #readStatus(): TapeStatus {
    const io = this.io;
    try {
      return io.status();
    } catch (first) {
      if (!isKernelError(first, 'EIO')) throw first;
      let again: TapeStatus;
      try {
        again = io.status();
      } catch (second) {
        if (!isKernelError(second, 'EIO')) throw second;
        throw new KernelError({
          errno: second.errno,
          syscall: second.syscall,
          request: second.request,
          path: second.path ?? this.options.path,
          disconnected: true,
        });
      }
      this.#status = again;
      throw first;
    }
  }

  /**
   * Runs tape-moving work with `busy` in the state, and refreshes the status
   * after it, however it ends. After work that succeeded, an error from that
   * status read (st's deferred write error, see #readStatus) is the command's;
   * after work that failed, the work's own error stands.
   */
  async busyWhile<T>(command: string, work: () => Promise<T>): Promise<T> {
    this.#busy = { command, started: performance.now() };
    this.ctx.stateChanged();
    let result: T;
    try {
      result = await work();
    } catch (e) {
      this.#busy = null;
      try {
        if (this.#io) this.refresh();
      } catch (after) {
        this.ctx.log.warn({ err: after }, 'tape status after %s failed', command);
      }
      this.ctx.stateChanged();
      throw e;
    }
    this.#busy = null;
    try {
      if (this.#io) this.refresh();
    } finally {
      this.ctx.stateChanged();
    }
    return result;
  }

  /** The st node, for raw ioctls (security.rawIoctl). */
  rawFile(): DeviceFile | undefined {
    return this.#io?.file;
  }

  state(): Record<string, unknown> {
    const s = this.#status;
    return {
      path: this.options.path,
      open: this.#io !== null,
      online: s?.online ?? false,
      bot: s?.bot ?? false,
      eof: s?.eof ?? false,
      eot: s?.eot ?? false,
      eod: s?.eod ?? false,
      sm: s?.sm ?? false,
      writeProtected: s?.writeProtected ?? false,
      doorOpen: s?.doorOpen ?? false,
      immReport: s?.immReport ?? false,
      cleaningRequested: s?.cleaningRequested ?? false,
      fileNumber: s?.fileNumber ?? -1,
      blockNumber: s?.blockNumber ?? -1,
      partition: s?.partition ?? 0,
      blockSize: s?.blockSize ?? 0,
      density: s?.density ?? 0,
      densityName: s?.densityName ?? null,
      driveType: s?.driveType ?? null,
      busy: this.#busy && { command: this.#busy.command, sinceMs: Math.round(performance.now() - this.#busy.started) },
    };
  }

  /** Where writeFile/readFile may go: options.filesDir, or with sim a folder in the device's state directory. */
  filesDir(): string {
    if (this.options.filesDir) return this.options.filesDir;
    if (this.ctx.sim) return path.join(this.ctx.stateDir, 'files');
    throw new CommandError('forbidden', `${this.ctx.id}: options.filesDir is not set, so no files may be read or written`);
  }

  /** The simulated drive's own files folder starts with something to write: an 8 MiB sample.bin (sparse). */
  async #sampleFile(): Promise<void> {
    const dir = this.filesDir();
    await fs.promises.mkdir(dir, { recursive: true });
    const sample = path.join(dir, SAMPLE);
    try {
      const fh = await fs.promises.open(sample, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      await fh.truncate(8 * 1024 * 1024);
      await fh.close();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
