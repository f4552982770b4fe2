/**
 * The one error type of the kernel seam. A failed syscall carries the errno
 * name, the request's name and the device path, so a user reading a result
 * knows what was tried on what and why the kernel said no.
 */
import { errnoMessage, errnoName, errnoNumber } from './errno.js';

export type Syscall = 'open' | 'close' | 'read' | 'write' | 'ioctl' | 'poll' | 'lseek' | 'socket' | 'sendto' | 'statfs';

/** errnos that mean the device itself has gone (USB unplug, driver unbound) rather than one call failing. */
const GONE = new Set(['ENODEV', 'ENXIO', 'ENOENT', 'ESHUTDOWN']);

export interface KernelErrorInit {
  readonly errno: number;
  readonly syscall: Syscall;
  readonly path?: string;
  readonly request?: string;
  /** Set by callers that know more, e.g. a tty read returning EIO after hangup. */
  readonly disconnected?: boolean;
}

export class KernelError extends Error {
  readonly errno: number;
  /** The errno name, e.g. `ENOTTY`. */
  readonly code: string;
  readonly syscall: Syscall;
  readonly path: string | undefined;
  readonly request: string | undefined;
  /** The device is gone: the caller should mark it offline and reopen later. */
  readonly disconnected: boolean;

  constructor(init: KernelErrorInit) {
    const code = errnoName(init.errno);
    const what = init.request ? `${init.syscall} ${init.request}` : init.syscall;
    const where = init.path ? ` on ${init.path}` : '';
    super(`${what}${where} failed: ${code} (${errnoMessage(init.errno)})`);
    this.name = 'KernelError';
    this.errno = init.errno;
    this.code = code;
    this.syscall = init.syscall;
    this.path = init.path;
    this.request = init.request;
    this.disconnected = init.disconnected ?? GONE.has(code);
  }

  /** For the sim models: the same error a driver's `-EIO` would give. */
  static of(name: string, init: Omit<KernelErrorInit, 'errno'>): KernelError {
    return new KernelError({ ...init, errno: errnoNumber(name) });
  }
}

export function isKernelError(e: unknown, code?: string): e is KernelError {
  return e instanceof KernelError && (code === undefined || e.code === code);
}
