/**
 * statfs(2) of the host's mounts, waited on for a bounded time. A network
 * mount whose server does not answer (an NFS hard mount, CIFS) makes statfs
 * sleep in the kernel until it does, maybe for hours; the call cannot be
 * taken back, and it holds one of libuv's thread-pool threads (4 by default,
 * shared by every fs call and koffi async call of the agent) all that time.
 * So:
 * - a mount that has not answered within `timeoutMs` is ETIMEDOUT for that
 *   read, and the other mounts and items are published without it;
 * - while that call is still in the kernel, the mount is not asked again
 *   (each read would take another pool thread until none is left); it is
 *   ETIMEDOUT at once, with the same message, so it is one read_failed event;
 * - once the call returns, the next read asks again.
 * A hung mount thus costs one pool thread at most, however long it hangs.
 */
import { KernelError } from '../../kernel/errors.js';
import type { Kernel } from '../../kernel/kernel.js';
import { statfsOf, type FsStats } from '../../kernel/statfs.js';

export class MountStatfs {
  /** The statfs calls still in the kernel, by mount. */
  readonly #inKernel = new Map<string, Promise<FsStats>>();

  constructor(
    private readonly kernel: () => Kernel,
    private readonly timeoutMs: number,
  ) {}

  async statfs(mount: string): Promise<FsStats> {
    if (this.#inKernel.has(mount)) throw this.#notAnswering(mount);
    const call = statfsOf(this.kernel(), mount);
    this.#inKernel.set(mount, call);
    const returned = (): void => void this.#inKernel.delete(mount);
    call.then(returned, returned);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#notAnswering(mount)), this.timeoutMs);
      // A stuck call must not hold the process open at exit.
      timer.unref();
    });
    try {
      return await Promise.race([call, bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  #notAnswering(mount: string): KernelError {
    const e = KernelError.of('ETIMEDOUT', { syscall: 'statfs', path: mount });
    return Object.assign(e, {
      message:
        `statfs on ${mount} did not answer within ${this.timeoutMs} ms (a network mount whose server is gone?); ` +
        'not asked again until that call returns',
    });
  }
}
