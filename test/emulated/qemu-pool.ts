/**
 * A vitest pool whose workers are a foreign-ABI Node under qemu-user.
 *
 * Vitest transforms the test files in its main process (here, natively) and
 * hands the code to its workers over an IPC channel; a worker itself needs
 * only Node and vitest's JavaScript runtime. So this pool forks vitest's own
 * forks-worker entry point, as the built-in `forks` pool does, but with
 * `qemu-arm-static -L ROOT node-armv7l` (or the aarch64 pair) in place of
 * this Node: the IPC channel is a socket, which QEMU passes through. The test
 * files then run unchanged in an armhf or arm64 process, koffi and every
 * ioctl included. A small boot script (worker-boot.mjs) loads the worker and
 * says when it listens: start() returns only then, so vitest's start
 * handshake, which has a fixed time limit, does not include the seconds an
 * emulated Node needs to load vitest.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest } from 'vitest/node';

export interface Emulation {
  /** argv that runs a program of the ABI: `["qemu-arm-static", "-L", ROOT]`. */
  readonly emulator: readonly string[];
  /** That ABI's Node binary. */
  readonly node: string;
  /** Extra environment for the workers (what the tests inside need to know). */
  readonly env: Readonly<Record<string, string>>;
}

const BOOT = fileURLToPath(new URL('./worker-boot.mjs', import.meta.url));

/** How long a worker that ignores SIGTERM gets before SIGKILL (the built-in forks pool waits 500 ms). */
const KILL_AFTER_MS = 2000;

class QemuWorker implements PoolWorker {
  readonly name: string;
  readonly cacheFs = true;
  readonly #options: PoolOptions;
  readonly #emulation: Emulation;
  #child: ChildProcess | undefined;

  constructor(name: string, options: PoolOptions, emulation: Emulation) {
    this.name = name;
    this.#options = options;
    this.#emulation = emulation;
  }

  get #proc(): ChildProcess {
    if (!this.#child) throw new Error(`${this.name}: the emulated worker is not running`);
    return this.#child;
  }

  // Vitest's PoolWorker interface types these callbacks' argument as `any`.
  on(event: string, callback: (arg: unknown) => void): void {
    this.#proc.on(event, callback);
  }
  off(event: string, callback: (arg: unknown) => void): void {
    this.#proc.off(event, callback);
  }
  send(message: WorkerRequest): void {
    this.#proc.send(message);
  }
  deserialize(data: unknown): unknown {
    return data;
  }

  async start(): Promise<void> {
    if (this.#child) return;
    const [qemu, ...qemuArgs] = this.#emulation.emulator;
    const child = fork(BOOT, [path.resolve(this.#options.distPath, 'workers/forks.js')], {
      execPath: qemu,
      execArgv: [...qemuArgs, this.#emulation.node, ...this.#options.execArgv],
      env: { ...this.#options.env, ...this.#emulation.env },
      stdio: 'pipe',
      // Both ends are Node 20 (V8 11.3): the structured-clone format is the same.
      serialization: 'advanced',
    });
    const logger = this.#options.project.vitest.logger;
    child.stdout?.pipe(logger.outputStream, { end: false });
    child.stderr?.pipe(logger.errorStream, { end: false });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if ((m as { dev2mqttWorkerReady?: boolean } | null)?.dev2mqttWorkerReady !== true) return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        child.off('message', onMessage);
        reject(new Error(`${this.name}: the emulated worker exited (${code ?? signal}) before it was ready`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    this.#child = child;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.kill();
    await exited;
    clearTimeout(kill);
    child.stdout?.unpipe();
    child.stderr?.unpipe();
  }
}

export function qemuPool(name: string, emulation: Emulation): PoolRunnerInitializer {
  return { name, createPoolWorker: (options) => new QemuWorker(name, options, emulation) };
}
