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
 *   (each read would take another pool thread until none is left): a read
 *   waits on that same call, with the same deadline, so once the deadline
 *   has passed it is ETIMEDOUT at once with the same message (one
 *   read_failed event), and a mount listed twice is asked once;
 * - once the call returns, the next read asks again.
 * A hung mount thus costs one pool thread at most, however long it hangs.
 */
import { KernelError } from '../../kernel/errors.js';
import type { Kernel } from '../../kernel/kernel.js';
import { statfsOf, type FsStats } from '../../kernel/statfs.js';

export class MountStatfs {
  /** Per mount, the bounded wait on its statfs call while that call is still in the kernel. */
  readonly #inKernel = new Map<string, Promise<FsStats>>();

  constructor(
    private readonly kernel: () => Kernel,
    private readonly timeoutMs: number,
  ) {}

  /** The mount's numbers; `signal` (the device closing) ends the wait at once, the call stays in the kernel. */
  async statfs(mount: string, signal?: AbortSignal): Promise<FsStats> {
    signal?.throwIfAborted();
    const wait = this.#inKernel.get(mount) ?? this.#ask(mount);
    if (!signal) return wait;
    let stop!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      stop = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', stop, { once: true });
    });
    try {
      return await Promise.race([wait, aborted]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  #ask(mount: string): Promise<FsStats> {
    const call = statfsOf(this.kernel(), mount);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#notAnswering(mount)), this.timeoutMs);
      // A stuck call must not hold the process open at exit.
      timer.unref();
    });
    const wait = Promise.race([call, bound]);
    // Whoever waited may have gone (the device closed): a late timeout is no unhandled rejection.
    wait.catch(() => undefined);
    this.#inKernel.set(mount, wait);
    const returned = (): void => {
      clearTimeout(timer);
      if (this.#inKernel.get(mount) === wait) this.#inKernel.delete(mount);
    };
    call.then(returned, returned);
    return wait;
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
