/**
 * Pseudo-terminals through the seam: the modem sim and the tests drive a real
 * tty driver from its master side, so termios requests meet the real kernel.
 */
import type { DeviceFile, Kernel } from './kernel.js';
import { O } from './kernel.js';
import { catalogue } from './requests.js';
import { intArg, readInt } from './codec.js';

export interface Pty {
  readonly master: DeviceFile;
  /** `/dev/pts/N`: open it like any serial port. */
  readonly slavePath: string;
}

/** posix_openpt + unlockpt + ptsname, spelled as the ioctls they are. */
export function openPty(kernel: Kernel): Pty {
  const cat = catalogue(kernel.arch);
  const master = kernel.open('/dev/ptmx', O.RDWR | O.NOCTTY | O.NONBLOCK | O.CLOEXEC);
  try {
    master.ioctl(cat.get('TIOCSPTLCK'), intArg(kernel.arch, 0));
    const n = intArg(kernel.arch);
    master.ioctl(cat.get('TIOCGPTN'), n);
    return { master, slavePath: `/dev/pts/${readInt(kernel.arch, n)}` };
  } catch (e) {
    master.close();
    throw e;
  }
}
