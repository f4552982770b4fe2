/**
 * The kernel a `sim: true` serial device gets: the real one for everything a
 * pty supports (open, termios2, read/write, poll, FIONREAD, TCFLSH, TIOCEXCL,
 * break), and the sim modem's model for what a pty refuses with ENOTTY
 * (TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC, TIOCMIWAIT, TIOCGICOUNT), with the
 * int and serial_icounter_struct buffers and errno values of a UART driver.
 */
import fs from 'node:fs';
import type { Arch } from '../../../kernel/arch.js';
import { KernelError } from '../../../kernel/errors.js';
import type { DeviceFile, IoctlArg, Kernel, ReadyEvents, Watch, WatchOptions } from '../../../kernel/kernel.js';
import { LibcKernel } from '../../../kernel/libc.js';
import { catalogue, type IoctlRequest } from '../../../kernel/requests.js';
import type { SimContext } from '../../kind.js';
import type { SerialOptions } from '../options.js';
import type { SimLines } from './lines.js';
import { SimModem, type Plug } from './modem.js';

const MODELLED = ['TIOCMGET', 'TIOCMSET', 'TIOCMBIS', 'TIOCMBIC', 'TIOCMIWAIT', 'TIOCGICOUNT'] as const;
type Modelled = (typeof MODELLED)[number];

export class SerialSimKernel implements Kernel {
  readonly name = 'sim:modem';
  readonly arch: Arch;
  readonly modem: SimModem;
  readonly #libc: LibcKernel;
  readonly #modelled: Map<number, Modelled>;

  constructor(linkPath: string, ctx: SimContext<SerialOptions>) {
    this.#libc = new LibcKernel();
    this.arch = this.#libc.arch;
    const cat = catalogue(this.arch);
    this.#modelled = new Map(MODELLED.map((name) => [cat.get(name).value, name]));
    this.modem = new SimModem({ kernel: this.#libc, arch: this.arch, linkPath, log: ctx.log });
    this.modem.plugIn();
    this.modem.ringEvery(ctx.options.simRingEveryMs ?? 0);
    ctx.signal.addEventListener('abort', () => this.modem.stop(), { once: true });
  }

  open(path: string, flags: number): DeviceFile {
    const file = this.#libc.open(path, flags);
    const plug = this.modem.plug;
    // Only the modem's own pty gets modelled lines; anything else stays a plain tty.
    if (!plug || safeRealpath(path) !== plug.pty.slavePath) return file;
    return new SimSerialFile(file, plug, this.modem, this.#modelled);
  }

  adopt(fd: number, path: string): DeviceFile {
    return this.#libc.adopt(fd, path);
  }
}

function safeRealpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/** The slave of the modem's pty, with the modem-line requests answered by the model. */
class SimSerialFile implements DeviceFile {
  readonly #real: DeviceFile;
  readonly #lines: SimLines;
  readonly #modem: SimModem;
  readonly #modelled: ReadonlyMap<number, Modelled>;

  constructor(real: DeviceFile, plug: Plug, modem: SimModem, modelled: ReadonlyMap<number, Modelled>) {
    this.#real = real;
    this.#lines = plug.lines;
    this.#modem = modem;
    this.#modelled = modelled;
    this.#lines.hostOpen();
    modem.attach(plug);
  }

  get path(): string {
    return this.#real.path;
  }
  get fd(): number {
    return this.#real.fd;
  }
  get closed(): boolean {
    return this.#real.closed;
  }

  read(buf: Uint8Array, length?: number): number | null {
    return this.#real.read(buf, length);
  }
  write(data: Uint8Array): number | null {
    return this.#real.write(data);
  }

  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    const name = this.#modelled.get(req.value);
    if (!name) return this.#real.ioctl(req, arg);
    if (name === 'TIOCMIWAIT') {
      // Blocking by nature: only reachable here if a caller used the synchronous path, which would hang a real tty.
      throw this.#error('EINVAL', req);
    }
    this.#modelSync(name, req, arg);
    return 0;
  }

  async ioctlBlocking(req: IoctlRequest, arg?: IoctlArg): Promise<number> {
    const name = this.#modelled.get(req.value);
    if (!name) return this.#real.ioctlBlocking(req, arg);
    if (name === 'TIOCMIWAIT') {
      this.#checkOpen(req);
      await this.#lines.tiocmiwait(arg).catch((e: unknown) => {
        throw e instanceof KernelError ? this.#error(e.code, req) : e;
      });
      return 0;
    }
    this.#modelSync(name, req, arg);
    return 0;
  }

  readBlocking(buf: Uint8Array, length?: number): Promise<number> {
    return this.#real.readBlocking(buf, length);
  }
  writeBlocking(data: Uint8Array): Promise<number> {
    return this.#real.writeBlocking(data);
  }
  poll(events: number, timeoutMs: number): Promise<number> {
    return this.#real.poll(events, timeoutMs);
  }
  watch(opts: WatchOptions, onReady: (ev: ReadyEvents) => void): Watch {
    return this.#real.watch(opts, onReady);
  }

  close(): void {
    if (this.#real.closed) return;
    if (!this.#lines.hungUp) {
      this.#lines.hostClose();
      this.#modem.detach();
    }
    this.#real.close();
  }

  #modelSync(name: Exclude<Modelled, 'TIOCMIWAIT'>, req: IoctlRequest, arg: IoctlArg): void {
    this.#checkOpen(req);
    try {
      switch (name) {
        case 'TIOCMGET':
          this.#lines.tiocmget(arg);
          break;
        case 'TIOCMSET':
          this.#lines.tiocmset('set', arg);
          break;
        case 'TIOCMBIS':
          this.#lines.tiocmset('bis', arg);
          break;
        case 'TIOCMBIC':
          this.#lines.tiocmset('bic', arg);
          break;
        case 'TIOCGICOUNT':
          this.#lines.tiocgicount(arg);
          break;
      }
    } catch (e) {
      throw e instanceof KernelError ? this.#error(e.code, req) : e;
    }
  }

  /** A closed descriptor is EBADF; a hung-up tty (unplugged) answers EIO. */
  #checkOpen(req: IoctlRequest): void {
    if (this.#real.closed) throw this.#error('EBADF', req);
    if (this.#lines.hungUp) throw this.#error('EIO', req);
  }

  #error(code: string, req: IoctlRequest): KernelError {
    return KernelError.of(code, { syscall: 'ioctl', path: this.#real.path, request: req.name });
  }
}
