/**
 * `sim: true` for `gpio`: a Kernel whose /dev/gpiochipN are SimGpioChip
 * models, answering the uapi v2 requests with the same struct buffers and the
 * same errno values as drivers/gpio/gpiolib-cdev.c:
 *  - any request on a chip or line fd once the chip is gone: ENODEV;
 *  - GPIO_V2_GET_LINEINFO_IOCTL: non-zero padding or an offset past the end: EINVAL;
 *  - GPIO_V2_GET_LINE_IOCTL: num_lines 0 or > 64, non-zero padding, a bad flag
 *    combination (gpio_v2_line_flags_validate) or an offset past the end: EINVAL;
 *    a line already held: EBUSY; the HTE clock (no CONFIG_HTE): EOPNOTSUPP;
 *  - GET_VALUES/SET_VALUES with an empty mask: EINVAL; SET_VALUES on an input: EPERM;
 *  - read() with room for less than one gpio_v2_line_event: EINVAL;
 *  - unknown requests: EINVAL (gpio_ioctl's and linereq_ioctl's default).
 * Line fds come from the model's own number space and are wrapped with adopt().
 */
import { hostArch, type Arch } from '../../kernel/arch.js';
import { decode, encode, writeField } from '../../kernel/codec.js';
import { sizeOf, type StructDef } from '../../kernel/ctypes.js';
import { KernelError } from '../../kernel/errors.js';
import type { DeviceFile, IoctlArg, Kernel, ReadyEvents } from '../../kernel/kernel.js';
import { catalogue, type IoctlRequest } from '../../kernel/requests.js';
import {
  GPIO_V2_LINE_NUM_ATTRS_MAX,
  GPIO_V2_LINES_MAX,
  gpio_v2_line_config,
  gpio_v2_line_event,
  gpio_v2_line_info,
  gpio_v2_line_request,
  gpio_v2_line_values,
  gpiochip_info,
  type GpioV2LineConfig,
} from '../../kernel/structs.js';
import { SimFile } from './sim-file.js';
import { SimGpioChip, type LineConfigEntry, type SimChipSpec, type SimLineRequest } from './sim-chip.js';
import { ATTR, FLAG } from './uapi.js';

const DIRECTION = FLAG.INPUT | FLAG.OUTPUT;
const DRIVE = FLAG.OPEN_DRAIN | FLAG.OPEN_SOURCE;
const EDGES = FLAG.EDGE_RISING | FLAG.EDGE_FALLING;
const BIAS = FLAG.BIAS_PULL_UP | FLAG.BIAS_PULL_DOWN | FLAG.BIAS_DISABLED;
const VALID = FLAG.ACTIVE_LOW | DIRECTION | DRIVE | EDGES | FLAG.EVENT_CLOCK_REALTIME | FLAG.EVENT_CLOCK_HTE | BIAS;

/** gpio_v2_line_flags_validate, on a kernel built without CONFIG_HTE (Raspberry Pi OS): the errno, or undefined. */
function flagsError(flags: bigint): string | undefined {
  if (flags & ~BigInt(VALID)) return 'EINVAL';
  const f = Number(flags);
  if (f & FLAG.EVENT_CLOCK_HTE) return 'EOPNOTSUPP';
  if ((f & DIRECTION) === DIRECTION) return 'EINVAL';
  if (f & EDGES && !(f & FLAG.INPUT)) return 'EINVAL';
  if ((f & DRIVE) === DRIVE) return 'EINVAL';
  if (f & DRIVE && !(f & FLAG.OUTPUT)) return 'EINVAL';
  if (f & BIAS && !(f & DIRECTION)) return 'EINVAL';
  const biases = [FLAG.BIAS_PULL_UP, FLAG.BIAS_PULL_DOWN, FLAG.BIAS_DISABLED].filter((b) => f & b).length;
  return biases > 1 ? 'EINVAL' : undefined;
}

/** gpio_v2_line_config_validate + the per-line lookups of flags, output value and debounce. */
function lineConfigs(lc: GpioV2LineConfig, numLines: number): LineConfigEntry[] | string {
  if (lc.num_attrs > GPIO_V2_LINE_NUM_ATTRS_MAX || lc.padding.some((p) => p !== 0)) return 'EINVAL';
  const attrs = lc.attrs.slice(0, lc.num_attrs);
  const out: LineConfigEntry[] = [];
  for (let i = 0; i < numLines; i++) {
    const bit = 1n << BigInt(i);
    const find = (id: number) => attrs.find((a) => a.attr.id === id && (a.mask & bit) !== 0n)?.attr;
    const flags = find(ATTR.FLAGS)?.flags ?? lc.flags;
    const err = flagsError(flags);
    if (err) return err;
    const debounce = find(ATTR.DEBOUNCE);
    if (debounce && !(Number(flags) & FLAG.INPUT)) return 'EINVAL';
    const values = find(ATTR.OUTPUT_VALUES)?.values ?? 0n;
    out.push({ flags: Number(flags), output: values & bit ? 1 : 0, debounceUs: debounce?.debounce_period_us ?? 0 });
  }
  return out;
}

abstract class GpioSimFile extends SimFile {
  constructor(
    path: string,
    fd: number,
    readonly chip: SimGpioChip,
    protected readonly arch: Arch,
  ) {
    super(path, fd);
  }

  /** The struct a request carries, or EFAULT when the buffer could not hold it. */
  protected struct<T extends object>(def: StructDef<T>, req: IoctlRequest, arg: IoctlArg): { buf: Buffer; value: T } {
    if (!Buffer.isBuffer(arg) || arg.length < sizeOf(def, this.arch)) throw this.error('EFAULT', 'ioctl', req);
    return { buf: arg, value: decode(def, this.arch, arg) };
  }

  protected enter(req: IoctlRequest): void {
    this.checkOpen('ioctl', req);
    if (!this.chip.present) throw this.error('ENODEV', 'ioctl', req);
  }

  protected is(req: IoctlRequest, name: string): boolean {
    return req.value === catalogue(this.arch).get(name).value;
  }
}

class SimChipFile extends GpioSimFile {
  constructor(
    path: string,
    fd: number,
    chip: SimGpioChip,
    arch: Arch,
    private readonly kernel: SimGpioKernel,
  ) {
    super(path, fd, chip, arch);
  }

  protected readiness(): ReadyEvents {
    return { readable: false, writable: false, disconnect: !this.chip.present };
  }

  protected released(): void {}

  read(): number | null {
    this.checkOpen('read');
    return null; // no line-info watches modelled: never anything to read
  }

  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    this.enter(req);
    if (this.is(req, 'GPIO_GET_CHIPINFO_IOCTL')) {
      const { buf } = this.struct(gpiochip_info, req, arg);
      encode(gpiochip_info, this.arch, { name: this.chip.spec.name, label: this.chip.spec.label, lines: this.chip.lineCount }, buf);
      return 0;
    }
    if (this.is(req, 'GPIO_V2_GET_LINEINFO_IOCTL')) {
      const { buf, value } = this.struct(gpio_v2_line_info, req, arg);
      if (value.padding.some((p) => p !== 0)) throw this.error('EINVAL', 'ioctl', req);
      const info = this.chip.lineInfo(value.offset);
      const attrs = info.debounceUs > 0 ? [{ id: ATTR.DEBOUNCE, debounce_period_us: info.debounceUs }] : [];
      encode(
        gpio_v2_line_info,
        this.arch,
        {
          name: info.name,
          consumer: info.consumer,
          offset: value.offset,
          flags: BigInt(info.flags),
          num_attrs: attrs.length,
          attrs,
        },
        buf,
      );
      return 0;
    }
    if (this.is(req, 'GPIO_V2_GET_LINE_IOCTL')) {
      const { buf, value: r } = this.struct(gpio_v2_line_request, req, arg);
      if (r.num_lines === 0 || r.num_lines > GPIO_V2_LINES_MAX || r.padding.some((p) => p !== 0)) throw this.error('EINVAL', 'ioctl', req);
      const config = lineConfigs(r.config, r.num_lines);
      if (typeof config === 'string') throw this.error(config, 'ioctl', req);
      const request = this.chip.request(this.kernel.nextFd(), r.offsets.slice(0, r.num_lines), r.consumer, config, r.event_buffer_size);
      this.kernel.hold(request);
      writeField(gpio_v2_line_request, this.arch, buf, 'fd', request.fd);
      return 0;
    }
    throw this.error('EINVAL', 'ioctl', req);
  }
}

class SimLineFile extends GpioSimFile {
  readonly #eventSize: number;

  constructor(
    path: string,
    readonly request: SimLineRequest,
    arch: Arch,
    private readonly kernel: SimGpioKernel,
  ) {
    super(path, request.fd, request.chip, arch);
    this.#eventSize = sizeOf(gpio_v2_line_event, arch);
    request.onChange = () => this.kick();
  }

  protected readiness(): ReadyEvents {
    return { readable: this.request.events.length > 0, writable: false, disconnect: !this.chip.present };
  }

  protected released(): void {
    this.chip.release(this.request);
    this.kernel.forget(this.request);
  }

  read(buf: Uint8Array, length = buf.length): number | null {
    this.checkOpen('read');
    if (!this.chip.present) throw this.error('ENODEV', 'read');
    const room = Math.min(length, buf.length);
    if (room < this.#eventSize) throw this.error('EINVAL', 'read');
    if (this.request.events.length === 0) return null;
    let n = 0;
    while (n + this.#eventSize <= room && this.request.events.length > 0) {
      const e = this.request.events.shift();
      if (!e) break;
      buf.set(encode(gpio_v2_line_event, this.arch, e), n);
      n += this.#eventSize;
    }
    return n;
  }

  ioctl(req: IoctlRequest, arg?: IoctlArg): number {
    this.enter(req);
    const lines = this.request.offsets.map((_, i) => i);
    const get = this.is(req, 'GPIO_V2_LINE_GET_VALUES_IOCTL');
    if (get || this.is(req, 'GPIO_V2_LINE_SET_VALUES_IOCTL')) {
      const { buf, value } = this.struct(gpio_v2_line_values, req, arg);
      const chosen = lines.filter((i) => (value.mask >> BigInt(i)) & 1n);
      if (chosen.length === 0) throw this.error('EINVAL', 'ioctl', req);
      if (get) {
        const bits = chosen.reduce((acc, i) => acc | (BigInt(this.chip.getValue(this.request, i)) << BigInt(i)), 0n);
        encode(gpio_v2_line_values, this.arch, { mask: value.mask, bits }, buf);
      } else {
        // Every line is checked before any is set, as linereq_set_values does.
        for (const i of chosen)
          if (!(this.chip.lineInfo(this.request.offsets[i] ?? 0).flags & FLAG.OUTPUT)) throw this.error('EPERM', 'ioctl', req);
        for (const i of chosen) this.chip.setValue(this.request, i, (value.bits >> BigInt(i)) & 1n ? 1 : 0);
      }
      return 0;
    }
    if (this.is(req, 'GPIO_V2_LINE_SET_CONFIG_IOCTL')) {
      const { value } = this.struct(gpio_v2_line_config, req, arg);
      const config = lineConfigs(value, lines.length);
      if (typeof config === 'string') throw this.error(config, 'ioctl', req);
      config.forEach((c, i) => this.chip.configure(this.request, i, c));
      return 0;
    }
    throw this.error('EINVAL', 'ioctl', req);
  }
}

/** A machine whose only devices are GPIO chip models. One per device (or shared by tests that pass it around). */
export class SimGpioKernel implements Kernel {
  readonly name = 'sim:gpiochip';
  readonly arch: Arch = hostArch();
  readonly #chips = new Map<string, SimGpioChip>();
  readonly #held = new Map<number, SimLineRequest>();
  #fd = 1000;

  constructor(chips: readonly SimChipSpec[]) {
    for (const spec of chips) this.#chips.set(spec.path, new SimGpioChip(spec));
  }

  /** The model behind a path, for tests and the demo to drive lines. */
  chip(path: string): SimGpioChip | undefined {
    return this.#chips.get(path);
  }

  open(path: string, _flags: number): DeviceFile {
    const chip = this.#chips.get(path);
    if (!chip || !chip.present) throw KernelError.of('ENOENT', { syscall: 'open', path });
    return new SimChipFile(path, this.nextFd(), chip, this.arch, this);
  }

  adopt(fd: number, path: string): DeviceFile {
    const request = this.#held.get(fd);
    if (!request) throw KernelError.of('EBADF', { syscall: 'open', path });
    return new SimLineFile(path, request, this.arch, this);
  }

  nextFd(): number {
    return this.#fd++;
  }

  hold(request: SimLineRequest): void {
    this.#held.set(request.fd, request);
  }

  forget(request: SimLineRequest): void {
    this.#held.delete(request.fd);
  }
}
