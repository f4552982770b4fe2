/**
 * How one port's termios is read and written, and with which requests.
 *
 * termios2 (TCGETS2/TCSETS2*) carries any speed: BOTHER with the rate in
 * c_ispeed/c_ospeed. The plain termios of TCGETS/TCSETS* carries only the
 * standard Bnnn rates, in c_cflag. Some kernels — and what stands in for one:
 * QEMU 7.2's user-mode syscall translation, some container runtimes, old or
 * unusual kernels — answer the termios2 requests with ENOSYS, ENOTTY or
 * EINVAL while plain termios works. A port there falls back to plain termios
 * and refuses any other rate with `bad_args`, saying why. powerpc has no
 * termios2 at all: its plain termios carries the speeds itself.
 */
import type { Arch } from '../../kernel/arch.js';
import { alloc, decode, encode } from '../../kernel/codec.js';
import type { StructDef } from '../../kernel/ctypes.js';
import { KernelError } from '../../kernel/errors.js';
import type { DeviceFile } from '../../kernel/kernel.js';
import { catalogue, termiosRequests, type IoctlRequest } from '../../kernel/requests.js';
import { termios, termios2, type Termios2 } from '../../kernel/structs.js';
import { baudConstants, baudOfBits, plainTermiosCc, termBits } from '../../kernel/termbits.js';
import { CommandError } from '../errors.js';
import type { LineSettings } from './options.js';
import { rawTermios, settingsFromTermios } from './termios.js';

/** What `state.termios` says: the requests the port is driven with. */
export type TermiosInterface = 'termios2' | 'termios';

/** The answers that mean "no termios2 here", as opposed to "this port failed". */
const NO_TERMIOS2: ReadonlySet<string> = new Set(['ENOSYS', 'ENOTTY', 'EINVAL']);

type SetWhen = 'now' | 'drain' | 'flush';

interface Variant {
  readonly name: TermiosInterface;
  readonly struct: StructDef<object>;
  /** Whether the struct carries c_ispeed/c_ospeed, which BOTHER rates need. */
  readonly anySpeed: boolean;
  readonly get: IoctlRequest;
  readonly set: Readonly<Record<SetWhen, IoctlRequest>>;
}

/** The variant a port tries first, and the one it falls back to (none on powerpc). */
function variants(arch: Arch): { first: Variant; fallback?: Variant } {
  const r = termiosRequests(arch);
  const own: Variant = {
    name: r.get.name === 'TCGETS2' ? 'termios2' : 'termios',
    struct: termios2,
    anySpeed: true,
    get: r.get,
    set: { now: r.set, drain: r.setDrain, flush: r.setFlush },
  };
  if (own.name === 'termios') return { first: own };
  const cat = catalogue(arch);
  return {
    first: own,
    fallback: {
      name: 'termios',
      struct: termios,
      anySpeed: false,
      get: cat.get('TCGETS'),
      set: { now: cat.get('TCSETS'), drain: cat.get('TCSETSW'), flush: cat.get('TCSETSF') },
    },
  };
}

export class PortTermios {
  readonly #file: DeviceFile;
  readonly #arch: Arch;
  #variant: Variant;
  #fallback: Variant | undefined;
  #why: string | undefined;

  private constructor(file: DeviceFile, arch: Arch) {
    this.#file = file;
    this.#arch = arch;
    const { first, fallback } = variants(arch);
    this.#variant = first;
    this.#fallback = fallback;
  }

  /** Reads the port's termios once, which settles the interface; returns it with what it read. */
  static open(file: DeviceFile, arch: Arch): { termios: PortTermios; current: Termios2 } {
    const t = new PortTermios(file, arch);
    return { termios: t, current: t.read() };
  }

  get interface(): TermiosInterface {
    return this.#variant.name;
  }

  /** Why the port is on plain termios, e.g. "TCGETS2 answered ENOSYS"; undefined on its first choice. */
  get fallbackReason(): string | undefined {
    return this.#why;
  }

  /** The port's termios, in termios2's shape whichever request read it (speeds from c_cflag on plain termios). */
  read(): Termios2 {
    const v = this.#variant;
    const buf = alloc(v.struct, this.#arch);
    try {
      this.#file.ioctl(v.get, buf);
    } catch (e) {
      if (this.#fallBack(e)) return this.read();
      throw e;
    }
    return v.anySpeed ? decode(termios2, this.#arch, buf) : this.#withSpeeds(decode(termios, this.#arch, buf));
  }

  write(t: Termios2, when: SetWhen = 'now'): void {
    this.#file.ioctl(this.#variant.set[when], this.#encode(t));
  }

  /** TCSETSW(2) off the event loop: waits until the output queue is on the wire, then sets. */
  async writeDrained(t: Termios2): Promise<void> {
    await this.#file.ioctlBlocking(this.#variant.set.drain, this.#encode(t));
  }

  /**
   * Puts the port in raw mode with `settings` and reads back what the driver
   * made of it: TCSETS2 succeeds when any part of the request could be carried
   * out, and drivers round speeds and drop bits they cannot do (CMSPAR, CSTOPB).
   * A rate plain termios cannot carry is refused before anything is written.
   */
  apply(settings: LineSettings): { applied: LineSettings; adjusted: string[] } {
    const variant = this.#variant;
    this.#checkSpeed(settings.baud);
    const current = this.read();
    // Either request may answer "no termios2" (TCSETS2 can, where TCGETS2 did not): start over on plain termios.
    if (this.#variant !== variant) return this.apply(settings);
    const cc = variant.anySpeed ? termBits(this.#arch) : plainTermiosCc(this.#arch);
    try {
      this.write(rawTermios(this.#arch, current, settings, cc));
    } catch (e) {
      if (this.#fallBack(e)) return this.apply(settings);
      throw e;
    }
    const applied = settingsFromTermios(this.#arch, this.read());
    const adjusted = (Object.keys(settings) as Array<keyof LineSettings>).filter((k) => applied[k] !== settings[k]);
    return { applied, adjusted };
  }

  #checkSpeed(baud: number): void {
    if (this.#variant.anySpeed || baudConstants(this.#arch).has(baud)) return;
    const rates = [...baudConstants(this.#arch).keys()].filter((b) => b > 0).join(', ');
    throw new CommandError(
      'bad_args',
      `baud ${baud} needs termios2 (BOTHER), and ${this.#file.path} is on plain termios because ${this.#why ?? 'this kernel has no termios2'}: ` +
        `only the standard rates work here (${rates})`,
      { termios: this.#variant.name },
    );
  }

  #encode(t: Termios2): Buffer {
    return encode(this.#variant.struct, this.#arch, t);
  }

  /** Plain termios has no speed fields: the rates are what its Bnnn bits say (0 for bits no table has). */
  #withSpeeds(t: Omit<Termios2, 'c_ispeed' | 'c_ospeed'>): Termios2 {
    const bits = termBits(this.#arch);
    const out = t.c_cflag & bits.CBAUD;
    const inBits = (t.c_cflag & bits.CIBAUD) >>> bits.IBSHIFT;
    const c_ospeed = baudOfBits(this.#arch, out) ?? 0;
    // An input speed of B0 in CIBAUD means "the same as the output speed".
    const c_ispeed = inBits === 0 ? c_ospeed : (baudOfBits(this.#arch, inBits) ?? 0);
    return { ...t, c_ispeed, c_ospeed };
  }

  /** Switches to plain termios when the error says termios2 is missing here; false when it is a real failure. */
  #fallBack(e: unknown): boolean {
    const fallback = this.#fallback;
    if (!fallback || !(e instanceof KernelError) || !NO_TERMIOS2.has(e.code)) return false;
    this.#why = `${e.request ?? 'termios2'} answered ${e.code}`;
    this.#variant = fallback;
    this.#fallback = undefined;
    return true;
  }
}
