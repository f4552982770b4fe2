/**
 * A Kernel that hands everything to another one, letting a test see (and
 * answer) each ioctl first: to record the buffers a model is handed, or to
 * answer a request the way a different kernel does — QEMU's user mode and
 * some container runtimes refuse termios2 with ENOSYS, old kernels with
 * ENOTTY or EINVAL. A hook that throws is the syscall failing; one that
 * returns lets the request through.
 */
import { KernelError } from '../../src/kernel/errors.js';
import type { DeviceFile, IoctlArg, Kernel, ReadyEvents, Watch, WatchOptions } from '../../src/kernel/kernel.js';
import type { IoctlRequest } from '../../src/kernel/requests.js';

export type IoctlHook = (req: IoctlRequest, arg: IoctlArg, file: DeviceFile) => void;

class HookedFile implements DeviceFile {
  constructor(
    readonly inner: DeviceFile,
    readonly hook: IoctlHook,
  ) {}

  get path(): string {
    return this.inner.path;
  }
  get fd(): number {
    return this.inner.fd;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  read(buf: Uint8Array, length?: number): number | null {
    return this.inner.read(buf, length);
  }
  write(data: Uint8Array): number | null {
    return this.inner.write(data);
  }
  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    this.hook(req, arg, this.inner);
    return this.inner.ioctl(req, arg);
  }
  async ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number> {
    this.hook(req, arg, this.inner);
    return this.inner.ioctlBlocking(req, arg);
  }
  readBlocking(buf: Uint8Array, length?: number): Promise<number> {
    return this.inner.readBlocking(buf, length);
  }
  writeBlocking(data: Uint8Array): Promise<number> {
    return this.inner.writeBlocking(data);
  }
  poll(events: number, timeoutMs: number): Promise<number> {
    return this.inner.poll(events, timeoutMs);
  }
  watch(opts: WatchOptions, onReady: (ev: ReadyEvents) => void): Watch {
    return this.inner.watch(opts, onReady);
  }
  close(): void {
    this.inner.close();
  }
}

export function hookIoctls(inner: Kernel, hook: IoctlHook): Kernel {
  return {
    name: `${inner.name}+hook`,
    arch: inner.arch,
    open: (path, flags) => new HookedFile(inner.open(path, flags), hook),
    adopt: (fd, path) => new HookedFile(inner.adopt(fd, path), hook),
  };
}

/** A hook under which the named requests fail with `errno`, as the syscall would, naming request and path. */
export function refuse(names: readonly string[], errno: string): IoctlHook {
  const refused = new Set(names);
  return (req, _arg, file) => {
    if (refused.has(req.name)) throw KernelError.of(errno, { syscall: 'ioctl', path: file.path, request: req.name });
  };
}
