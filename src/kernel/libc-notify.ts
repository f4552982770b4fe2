/**
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket systemd
 * names in $NOTIFY_SOCKET. Node's dgram speaks only UDP, so the socket goes
 * through libc via koffi — which is why this lives beside libc.ts, the other
 * module allowed to import koffi.
 */
import { koffi } from './libc-koffi.js';
import { hostArch } from './arch.js';
import { KernelError } from './errors.js';

interface NotifyLibc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number;
  close(fd: number): number;
}

const AF_UNIX = 1;
/** MIPS swapped SOCK_STREAM and SOCK_DGRAM (arch/mips/include/asm/socket.h). */
const SOCK_DGRAM = hostArch().ioc === 'mips' ? 1 : 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** struct sockaddr_un: sa_family_t sun_family; char sun_path[108]. */
const SUN_PATH_MAX = 108;

let libc: NotifyLibc | undefined;

function bind(): NotifyLibc {
  if (libc) return libc;
  const lib = koffi().load('libc.so.6');
  // koffi's functions are typed `any`; these three signatures are the whole surface.
  libc = {
    socket: lib.func('socket', 'int', ['int', 'int', 'int']) as NotifyLibc['socket'],
    sendto: lib.func('sendto', 'intptr_t', ['int', 'void *', 'size_t', 'int', 'void *', 'uint32_t']) as NotifyLibc['sendto'],
    close: lib.func('close', 'int', ['int']) as NotifyLibc['close'],
  };
  return libc;
}

/** The sockaddr_un for a path; `@name` is the abstract namespace (a leading NUL), as sd_notify reads it. */
export function unixAddress(socketPath: string): { addr: Buffer; length: number } {
  const abstract = socketPath.startsWith('@');
  const name = Buffer.from(abstract ? `\0${socketPath.slice(1)}` : socketPath);
  if (name.length >= SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET path is too long (${name.length} bytes)`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  if (hostArch().littleEndian) addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0);
  name.copy(addr, 2);
  // Abstract names are exactly their bytes; a path counts its terminating NUL.
  return { addr, length: 2 + name.length + (abstract ? 0 : 1) };
}

/** Sends one notification (`READY=1`, `WATCHDOG=1` …); throws a KernelError with the errno. */
export function sendNotify(socketPath: string, message: string): void {
  const c = bind();
  const { addr, length } = unixAddress(socketPath);
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new KernelError({ errno: koffi().errno(), syscall: 'socket', path: socketPath });
  try {
    const data = Buffer.from(message);
    const n = c.sendto(fd, data, data.length, MSG_NOSIGNAL, addr, length);
    if (n < 0) throw new KernelError({ errno: koffi().errno(), syscall: 'sendto', path: socketPath });
  } finally {
    c.close(fd);
  }
}
