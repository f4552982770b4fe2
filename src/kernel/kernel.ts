/**
 * The kernel seam. Device kinds talk to devices only through these two
 * interfaces; `libc.ts` implements them with real syscalls through koffi, and
 * each kind's `sim` model implements them with an in-process model of the
 * driver that answers the same requests, struct buffers and errno values.
 * Besides device nodes, a kernel may answer statfs(2) for a mounted
 * filesystem (statfs.ts; disk usage of the node itself).
 */
import fs from 'node:fs';
import type { Arch } from './arch.js';
import type { IoctlRequest } from './requests.js';
import type { FsStats } from './statfs.js';

/** open(2) flags of this platform (Node reads them from the C headers it was built with). */
export const O = {
  RDONLY: fs.constants.O_RDONLY,
  WRONLY: fs.constants.O_WRONLY,
  RDWR: fs.constants.O_RDWR,
  NOCTTY: fs.constants.O_NOCTTY,
  NONBLOCK: fs.constants.O_NONBLOCK,
  CLOEXEC: 0o2000000,
  SYNC: fs.constants.O_SYNC,
} as const;

/** poll(2) event bits: the same values on every Linux arch for these four. */
export const POLL = { IN: 0x1, PRI: 0x2, OUT: 0x4, ERR: 0x8, HUP: 0x10, NVAL: 0x20 } as const;

export interface ReadyEvents {
  readonly readable: boolean;
  readonly writable: boolean;
  /** The other end hung up or the device went away. */
  readonly disconnect: boolean;
}

export interface WatchOptions {
  readonly readable?: boolean;
  readonly writable?: boolean;
}

/** A readiness subscription on the event loop (libuv poll on a real fd). */
export interface Watch {
  stop(): void;
}

/** An ioctl argument: a struct or int buffer the kernel reads/fills, or an int passed by value. */
export type IoctlArg = Buffer | number | undefined;

export interface DeviceFile {
  readonly path: string;
  /** The descriptor; -1 once closed. Sim descriptors are numbers of the model's own. */
  readonly fd: number;
  readonly closed: boolean;

  /** Non-blocking read; returns bytes read (0 at end of file) or null when nothing is ready (EAGAIN). */
  read(buf: Uint8Array, length?: number): number | null;
  /** Non-blocking write; returns bytes written or null when the device cannot take any now. */
  write(data: Uint8Array): number | null;
  /** A short request, run synchronously: the common case, and the cheap one. */
  ioctl(req: IoctlRequest, arg?: IoctlArg): number;

  /**
   * Requests and I/O that may block for a long time (a rewind, TIOCMIWAIT, a tape
   * record) run off the event loop. The libc kernel uses the libuv thread pool,
   * which the agent sizes so one waiting device cannot starve the others.
   */
  ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number>;
  readBlocking(buf: Uint8Array, length?: number): Promise<number>;
  writeBlocking(data: Uint8Array): Promise<number>;
  /** poll(2) on this file off the event loop; resolves to revents (0 on timeout). */
  poll(events: number, timeoutMs: number): Promise<number>;

  /** Calls back on the event loop whenever the file becomes readable/writable or is hung up. */
  watch(opts: WatchOptions, onReady: (ev: ReadyEvents) => void): Watch;

  close(): void;
}

export interface Kernel {
  /** `libc` for the real kernel, `sim:<model>` for a model. */
  readonly name: string;
  /** The ABI the struct buffers are laid out for: always this process's. */
  readonly arch: Arch;
  /**
   * The ABI of the kernel itself where a model says (a sim of a 32-bit Pi
   * kernel); left out, it is this machine's kernel's (arch.ts kernelArch()).
   */
  readonly kernelArch?: Arch;
  open(path: string, flags: number): DeviceFile;
  /** Wraps a descriptor a request handed back (GPIO_V2_GET_LINE_IOCTL's line fd). */
  adopt(fd: number, path: string): DeviceFile;
  /**
   * statfs(2) of the filesystem holding `path`, off the event loop (a hung
   * network mount must not freeze the agent). Kernels that model no
   * filesystem (a tape drive's) leave it out: statfsOf() answers ENOSYS.
   */
  statfs?(path: string): Promise<FsStats>;
}
