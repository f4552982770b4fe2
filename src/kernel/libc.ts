/**
 * The real kernel: libc's open/close/read/write/ioctl/poll through koffi.
 * Only this module, libc-notify.ts and libc-types.ts reach koffi (through
 * libc-koffi.ts, which loads it on first use).
 *
 * errno is read with koffi().errno() right after the failing call, before any
 * other native call can overwrite it; on `.async` calls koffi restores the
 * worker thread's errno while our callback runs (koffi >= 3.2).
 */
import { koffi } from './libc-koffi.js';
import { hostArch, type Arch } from './arch.js';
import { KernelError, type Syscall } from './errors.js';
import { errnoNumber } from './errno.js';
import type { DeviceFile, IoctlArg, Kernel, ReadyEvents, Watch, WatchOptions } from './kernel.js';
import type { IoctlRequest } from './requests.js';
import { encode, readField } from './codec.js';
import { pollfd } from './structs.js';

/**
 * koffi hands back `any` for native calls; these are the shapes we declare
 * below, narrowed once here so nothing past this file sees `any`.
 */
type AsyncCb<R> = (err: unknown, res: R) => void;
interface NativeFn<A extends unknown[], R> {
  (...args: A): R;
  async(...args: [...A, AsyncCb<R>]): void;
}

interface Libc {
  open: NativeFn<[string, number, number], number>;
  close: NativeFn<[number], number>;
  read: NativeFn<[number, Uint8Array, number], number>;
  write: NativeFn<[number, Uint8Array, number], number>;
  // ioctl is variadic in C; its third argument is either a pointer or an int, and
  // on every Linux ABI we target a variadic int/pointer travels exactly like a fixed one.
  ioctlPtr: NativeFn<[number, number, Uint8Array], number>;
  ioctlInt: NativeFn<[number, number, number], number>;
  poll: NativeFn<[Uint8Array, number, number], number>;
}

let libc: Libc | undefined;

function bind(): Libc {
  if (libc) return libc;
  const lib = koffi().load('libc.so.6');
  const fn = <A extends unknown[], R>(ret: string, name: string, args: string[]): NativeFn<A, R> => lib.func(name, ret, args);
  libc = {
    open: fn('int', 'open', ['str', 'int', 'int']),
    close: fn('int', 'close', ['int']),
    read: fn('intptr_t', 'read', ['int', 'void *', 'size_t']),
    write: fn('intptr_t', 'write', ['int', 'void *', 'size_t']),
    ioctlPtr: fn('int', 'ioctl', ['int', 'unsigned long', 'void *']),
    ioctlInt: fn('int', 'ioctl', ['int', 'unsigned long', 'intptr_t']),
    poll: fn('int', 'poll', ['void *', 'unsigned long', 'int']),
  };
  return libc;
}

const EAGAIN = errnoNumber('EAGAIN');
const EINTR = errnoNumber('EINTR');

function callAsync<A extends unknown[]>(f: NativeFn<A, number>, args: A): Promise<{ res: number; errno: number }> {
  return new Promise((resolve, reject) => {
    f.async(...args, (err: unknown, res: number) => {
      if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
      else resolve({ res, errno: res < 0 ? koffi().errno() : 0 });
    });
  });
}

class LibcFile implements DeviceFile {
  #fd: number;
  readonly path: string;
  readonly #c: Libc;
  readonly #watches = new Set<{ close(): void }>();

  constructor(c: Libc, fd: number, path: string) {
    this.#c = c;
    this.#fd = fd;
    this.path = path;
  }

  get fd(): number {
    return this.#fd;
  }
  get closed(): boolean {
    return this.#fd < 0;
  }

  #fail(syscall: Syscall, errno: number, req?: IoctlRequest): KernelError {
    return new KernelError({ errno, syscall, path: this.path, request: req?.name });
  }

  read(buf: Uint8Array, length = buf.length): number | null {
    const n = this.#c.read(this.#fd, buf, Math.min(length, buf.length));
    if (n >= 0) return n;
    const errno = koffi().errno();
    if (errno === EAGAIN || errno === EINTR) return null;
    throw this.#fail('read', errno);
  }

  write(data: Uint8Array): number | null {
    const n = this.#c.write(this.#fd, data, data.length);
    if (n >= 0) return n;
    const errno = koffi().errno();
    if (errno === EAGAIN || errno === EINTR) return null;
    throw this.#fail('write', errno);
  }

  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    const r = typeof arg === 'object' ? this.#c.ioctlPtr(this.#fd, req.value, arg) : this.#c.ioctlInt(this.#fd, req.value, arg ?? 0);
    if (r < 0) throw this.#fail('ioctl', koffi().errno(), req);
    return r;
  }

  async ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number> {
    const { res, errno } =
      typeof arg === 'object'
        ? await callAsync(this.#c.ioctlPtr, [this.#fd, req.value, arg])
        : await callAsync(this.#c.ioctlInt, [this.#fd, req.value, arg ?? 0]);
    if (res < 0) throw this.#fail('ioctl', errno, req);
    return res;
  }

  async readBlocking(buf: Uint8Array, length = buf.length): Promise<number> {
    const { res, errno } = await callAsync(this.#c.read, [this.#fd, buf, Math.min(length, buf.length)]);
    if (res < 0) throw this.#fail('read', errno);
    return res;
  }

  async writeBlocking(data: Uint8Array): Promise<number> {
    const { res, errno } = await callAsync(this.#c.write, [this.#fd, data, data.length]);
    if (res < 0) throw this.#fail('write', errno);
    return res;
  }

  async poll(events: number, timeoutMs: number): Promise<number> {
    const arch = hostArch();
    const fds = encode(pollfd, arch, { fd: this.#fd, events, revents: 0 });
    const { res, errno } = await callAsync(this.#c.poll, [fds, 1, Math.max(-1, Math.trunc(timeoutMs))]);
    if (res < 0) throw this.#fail('poll', errno);
    return res === 0 ? 0 : Number(readField(pollfd, arch, fds, 'revents')) & 0xffff;
  }

  watch(opts: WatchOptions, onReady: (ev: ReadyEvents) => void): Watch {
    const want = { readable: opts.readable ?? true, writable: opts.writable ?? false, disconnect: true };
    // koffi calls back with (status, events); a negative status is libuv's error for the fd.
    const handle = koffi().node.poll(this.#fd, want, ((status: number, ev: ReadyEvents) => {
      if (status < 0) onReady({ readable: false, writable: false, disconnect: true });
      else onReady(ev);
    }) as unknown as (ev: ReadyEvents) => void);
    const entry = { close: () => handle.close() };
    this.#watches.add(entry);
    return {
      stop: () => {
        if (this.#watches.delete(entry)) entry.close();
      },
    };
  }

  close(): void {
    if (this.#fd < 0) return;
    // libuv must stop watching before the descriptor number can be reused.
    for (const w of this.#watches) w.close();
    this.#watches.clear();
    const fd = this.#fd;
    this.#fd = -1;
    if (this.#c.close(fd) < 0) {
      const errno = koffi().errno();
      // EINTR on close still releases the descriptor on Linux; retrying could close someone else's.
      if (errno !== EINTR) throw this.#fail('close', errno);
    }
  }
}

export class LibcKernel implements Kernel {
  readonly name = 'libc';
  readonly arch: Arch = hostArch();
  readonly #c = bind();

  open(path: string, flags: number): DeviceFile {
    const fd = this.#c.open(path, flags, 0);
    if (fd < 0) throw new KernelError({ errno: koffi().errno(), syscall: 'open', path });
    return new LibcFile(this.#c, fd, path);
  }

  adopt(fd: number, path: string): DeviceFile {
    return new LibcFile(this.#c, fd, path);
  }
}
