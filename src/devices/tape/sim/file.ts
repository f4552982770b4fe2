/**
 * An open file of the st model: each call goes to the model through the
 * kernel's rules (faults, one call at a time, the drive's time).
 */
import { KernelError, type Syscall } from '../../../kernel/errors.js';
import type { DeviceFile, IoctlArg, ReadyEvents, Watch } from '../../../kernel/kernel.js';
import type { IoctlRequest } from '../../../kernel/requests.js';
import type { SimTapeKernel } from './kernel.js';

export class SimTapeFile implements DeviceFile {
  #fd: number;

  constructor(
    readonly k: SimTapeKernel,
    fd: number,
    readonly path: string,
  ) {
    this.#fd = fd;
  }

  get fd(): number {
    return this.#fd;
  }
  get closed(): boolean {
    return this.#fd < 0;
  }

  #open(syscall: Syscall): void {
    if (this.#fd < 0) throw KernelError.of('EBADF', { syscall, path: this.path });
  }

  #read(buf: Uint8Array, length: number): number {
    const data = this.k.call('read', this.path, ['read'], undefined, () => this.k.model.read(Math.min(length, buf.length)));
    buf.set(data);
    return data.length;
  }

  #write(data: Uint8Array): number {
    return this.k.call('write', this.path, ['write'], undefined, () =>
      this.k.model.write(Buffer.from(data.buffer, data.byteOffset, data.length)),
    );
  }

  read(buf: Uint8Array, length = buf.length): number {
    this.#open('read');
    const n = this.k.sync('read', this.path, undefined, 0, () => this.#read(buf, length));
    this.k.sync('read', this.path, undefined, this.k.transferMs(n), () => n);
    return n;
  }

  write(data: Uint8Array): number {
    this.#open('write');
    return this.k.sync('write', this.path, undefined, this.k.transferMs(data.length), () => this.#write(data));
  }

  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    this.#open('ioctl');
    return this.k.sync('ioctl', this.path, req.name, this.k.ioctlDuration(req, arg), () => this.k.ioctlNow(this, req, arg));
  }

  ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number> {
    this.#open('ioctl');
    return this.k.blocking(
      this.k.ioctlLabel(req, arg),
      () => this.k.ioctlDuration(req, arg),
      () => this.k.ioctlNow(this, req, arg),
    );
  }

  readBlocking(buf: Uint8Array, length = buf.length): Promise<number> {
    this.#open('read');
    return this.k.blocking(
      'read',
      () => 0,
      () => this.#read(buf, length),
      (n) => this.k.transferMs(n),
    );
  }

  writeBlocking(data: Uint8Array): Promise<number> {
    this.#open('write');
    return this.k.blocking(
      'write',
      () => this.k.transferMs(data.length),
      () => this.#write(data),
    );
  }

  /** st has no poll method: the VFS reports such files always readable and writable. */
  poll(events: number): Promise<number> {
    this.#open('poll');
    return Promise.resolve(events & 0x5);
  }

  watch(opts: { readable?: boolean; writable?: boolean }, onReady: (ev: ReadyEvents) => void): Watch {
    let stopped = false;
    setImmediate(() => {
      if (!stopped) onReady({ readable: opts.readable ?? true, writable: opts.writable ?? false, disconnect: false });
    });
    return {
      stop: () => {
        stopped = true;
      },
    };
  }

  /**
   * The driver releases the drive when the call in flight returns (the file
   * stays referenced until then), so a close during a rewind takes effect after it.
   */
  close(): void {
    if (this.#fd < 0) return;
    this.#fd = -1;
    const release = (): void => {
      try {
        this.k.call('close', this.path, ['close'], undefined, () => this.k.model.close());
      } catch (e) {
        // close(2) releases the file even when it reports an error (st_release runs after a
        // failed flush): an injected close fault is reported, and the drive is free all the same,
        // or every later open would be EBUSY.
        if (this.k.model.s.inUse) this.k.model.close();
        throw e;
      }
    };
    if (this.k.inFlight) void this.k.blocking('close', () => 0, release).catch(() => undefined);
    else release();
  }
}
