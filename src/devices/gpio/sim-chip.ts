/**
 * A model of one GPIO chip as gpiolib and gpiolib-cdev.c keep it: lines with
 * a physical level, requests that hold lines (EBUSY for a held one, EINVAL
 * for an offset past the end), logical values through active-low, and edge
 * events queued per request with the kernel's timestamps and sequence
 * numbers. sim-kernel.ts puts the ioctl/read/poll face on it.
 *
 * The outside world is `drive(offset, level)`: what a button or a wire does
 * to the pin. A line nobody drives follows its bias (pull-up 1, pull-down 0)
 * or keeps its level. An output shows the level it drives (open-drain and
 * open-source are not modelled electrically).
 */
import { KernelError } from '../../kernel/errors.js';
import { EVENT, FLAG } from './uapi.js';

export interface SimChipSpec {
  readonly path: string;
  /** `gpiochipN`: the device name GPIO_GET_CHIPINFO_IOCTL reports. */
  readonly name: string;
  readonly label: string;
  readonly lineNames: readonly string[];
}

/** One line of a request: its flags (uapi v2 bits), output value, debounce. */
export interface LineConfigEntry {
  readonly flags: number;
  readonly output: 0 | 1;
  readonly debounceUs: number;
}

export interface QueuedEvent {
  readonly timestamp_ns: bigint;
  readonly id: number;
  readonly offset: number;
  readonly seqno: number;
  readonly line_seqno: number;
}

interface SimLine {
  readonly name: string;
  /** The physical level at the pin. */
  level: 0 | 1;
  /** What the outside world drives onto the pin, if anything. */
  driven: 0 | 1 | undefined;
  /** uapi v2 flags of the current configuration (direction kept after release, as FLAG_IS_OUT is). */
  flags: number;
  request: SimLineRequest | undefined;
  debounceUs: number;
  /** The level the debouncer last accepted. */
  debounced: 0 | 1;
  debounceTimer: NodeJS.Timeout | undefined;
  lineSeqno: number;
}

const EDGE_FLAGS = FLAG.EDGE_RISING | FLAG.EDGE_FALLING;

/** kfifo_alloc rounds the event buffer up to a power of two. */
const roundUpPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class SimLineRequest {
  readonly events: QueuedEvent[] = [];
  readonly capacity: number;
  seqno = 0;
  released = false;
  /** sim-kernel.ts hangs its readiness kick here. */
  onChange: () => void = () => undefined;

  constructor(
    readonly chip: SimGpioChip,
    readonly fd: number,
    readonly offsets: readonly number[],
    readonly consumer: string,
    eventBufferSize: number,
  ) {
    const size = eventBufferSize === 0 ? offsets.length * 16 : Math.min(eventBufferSize, 64 * 16);
    this.capacity = roundUpPow2(size);
  }

  /** linereq_put_event: a full fifo drops its oldest record. */
  put(e: QueuedEvent): void {
    if (this.events.length >= this.capacity) this.events.shift();
    this.events.push(e);
    this.onChange();
  }
}

export class SimGpioChip {
  readonly #lines: SimLine[];
  #present = true;

  constructor(readonly spec: SimChipSpec) {
    this.#lines = spec.lineNames.map((name) => ({
      name,
      level: 0,
      driven: undefined,
      flags: FLAG.INPUT,
      request: undefined,
      debounceUs: 0,
      debounced: 0,
      debounceTimer: undefined,
      lineSeqno: 0,
    }));
  }

  get present(): boolean {
    return this.#present;
  }
  get lineCount(): number {
    return this.#lines.length;
  }

  /** gpio_device_get_desc: an offset past the end is EINVAL. */
  #line(offset: number, request?: string): SimLine {
    const l = this.#lines[offset];
    if (!l) throw KernelError.of('EINVAL', { syscall: 'ioctl', path: this.spec.path, ...(request ? { request } : {}) });
    return l;
  }

  lineInfo(offset: number): { name: string; consumer: string; flags: number; debounceUs: number } {
    const l = this.#line(offset, 'GPIO_V2_GET_LINEINFO_IOCTL');
    const used = l.request ? FLAG.USED : 0;
    return { name: l.name, consumer: l.request?.consumer ?? '', flags: l.flags | used, debounceUs: l.debounceUs };
  }

  /** linereq_create after validation: each line is requested in turn; a held one is EBUSY and undoes the rest. */
  request(
    fd: number,
    offsets: readonly number[],
    consumer: string,
    config: readonly LineConfigEntry[],
    eventBufferSize: number,
  ): SimLineRequest {
    const req = new SimLineRequest(this, fd, offsets, consumer, eventBufferSize);
    const taken: SimLine[] = [];
    try {
      for (const offset of offsets) {
        const l = this.#line(offset, 'GPIO_V2_GET_LINE_IOCTL');
        if (l.request) throw KernelError.of('EBUSY', { syscall: 'ioctl', path: this.spec.path, request: 'GPIO_V2_GET_LINE_IOCTL' });
        l.request = req;
        taken.push(l);
      }
    } catch (e) {
      for (const l of taken) l.request = undefined;
      throw e;
    }
    offsets.forEach((offset, i) => this.configure(req, i, config[i] ?? { flags: 0, output: 0, debounceUs: 0 }));
    return req;
  }

  /** Applies one line's config (at request time and for GPIO_V2_LINE_SET_CONFIG_IOCTL). */
  configure(req: SimLineRequest, index: number, c: LineConfigEntry): void {
    const l = this.#lineOf(req, index);
    const direction = c.flags & (FLAG.INPUT | FLAG.OUTPUT) || l.flags & (FLAG.INPUT | FLAG.OUTPUT);
    l.flags = (c.flags & ~(FLAG.INPUT | FLAG.OUTPUT)) | direction;
    l.debounceUs = c.flags & FLAG.INPUT ? c.debounceUs : 0;
    clearTimeout(l.debounceTimer);
    if (l.flags & FLAG.OUTPUT) {
      this.#setLevel(l, c.output ^ this.#activeLow(l) ? 1 : 0);
    } else {
      // Direction and bias take effect before the edge detector starts: no event for this change.
      l.level = this.#inputLevel(l);
      l.debounced = l.level;
    }
  }

  /** Logical values of a request's lines (bit i = line i), debounced where a debounce period is set. */
  getValue(req: SimLineRequest, index: number): 0 | 1 {
    const l = this.#lineOf(req, index);
    const level = l.debounceUs > 0 && !(l.flags & FLAG.OUTPUT) ? l.debounced : l.level;
    return (level ^ this.#activeLow(l)) as 0 | 1;
  }

  /** Drives an output (logical value); EPERM for an input, as linereq_set_values says. */
  setValue(req: SimLineRequest, index: number, value: 0 | 1): void {
    const l = this.#lineOf(req, index);
    if (!(l.flags & FLAG.OUTPUT))
      throw KernelError.of('EPERM', { syscall: 'ioctl', path: this.spec.path, request: 'GPIO_V2_LINE_SET_VALUES_IOCTL' });
    this.#setLevel(l, (value ^ this.#activeLow(l)) as 0 | 1);
  }

  release(req: SimLineRequest): void {
    if (req.released) return;
    req.released = true;
    for (const offset of req.offsets) {
      const l = this.#lines[offset];
      if (!l || l.request !== req) continue;
      clearTimeout(l.debounceTimer);
      l.request = undefined;
      // gpiod_free clears every flag but the direction.
      l.flags &= FLAG.INPUT | FLAG.OUTPUT;
      l.debounceUs = 0;
      l.lineSeqno = 0;
      this.#settle(l);
    }
  }

  // ---- the outside world -------------------------------------------------------

  /** A button, a wire or a sensor sets the pin's level (undefined: lets go of it). */
  drive(offset: number, level: 0 | 1 | undefined): void {
    const l = this.#line(offset);
    l.driven = level;
    this.#settle(l);
  }

  /** Flips what the outside drives onto the pin: the demo's self-pressing button. */
  toggle(offset: number): void {
    const l = this.#line(offset);
    this.drive(offset, l.level ? 0 : 1);
  }

  /** The physical level at the pin (what a meter would read). */
  level(offset: number): 0 | 1 {
    return this.#line(offset).level;
  }

  /** The chip goes away (a USB expander unplugged): ioctls fail with ENODEV, line fds hang up. */
  unplug(): void {
    this.#present = false;
    for (const l of this.#lines) l.request?.onChange();
  }

  replug(): void {
    this.#present = true;
  }

  // ---- the driver's rules ------------------------------------------------------------

  #lineOf(req: SimLineRequest, index: number): SimLine {
    const offset = req.offsets[index];
    const l = offset === undefined ? undefined : this.#lines[offset];
    if (!l) throw new RangeError(`request has no line ${index}`);
    return l;
  }

  #activeLow(l: SimLine): 0 | 1 {
    return l.flags & FLAG.ACTIVE_LOW ? 1 : 0;
  }

  /** An input's level: what is driven onto it, else its bias, else what it had. */
  #inputLevel(l: SimLine): 0 | 1 {
    const bias = l.flags & FLAG.BIAS_PULL_UP ? 1 : l.flags & FLAG.BIAS_PULL_DOWN ? 0 : l.level;
    return l.driven ?? bias;
  }

  /** A line left as output (held or released) keeps driving its level; an input follows the outside. */
  #settle(l: SimLine): void {
    if (l.flags & FLAG.OUTPUT) return;
    this.#setLevel(l, this.#inputLevel(l));
  }

  #setLevel(l: SimLine, level: 0 | 1): void {
    if (l.level === level) return;
    l.level = level;
    const req = l.request;
    if (!req || !(l.flags & FLAG.INPUT) || !(l.flags & EDGE_FLAGS)) return;
    if (l.debounceUs > 0) {
      // debounce_irq_handler/debounce_work_func: report only a level that held for the period.
      clearTimeout(l.debounceTimer);
      l.debounceTimer = setTimeout(
        () => {
          if (l.request !== req || l.level === l.debounced) return;
          l.debounced = l.level;
          this.#edge(l, req);
        },
        Math.max(1, Math.round(l.debounceUs / 1000)),
      );
      l.debounceTimer.unref();
      return;
    }
    this.#edge(l, req);
  }

  /** edge_irq_thread: the event id is the new logical level; an edge nobody asked for is not reported. */
  #edge(l: SimLine, req: SimLineRequest): void {
    const logical = l.level ^ this.#activeLow(l);
    const wanted = logical ? FLAG.EDGE_RISING : FLAG.EDGE_FALLING;
    if (!(l.flags & wanted)) return;
    l.lineSeqno++;
    const seqno = req.offsets.length === 1 ? l.lineSeqno : ++req.seqno;
    const offset = this.#lines.indexOf(l);
    req.put({
      timestamp_ns: l.flags & FLAG.EVENT_CLOCK_REALTIME ? BigInt(Date.now()) * 1_000_000n : process.hrtime.bigint(),
      id: logical ? EVENT.RISING_EDGE : EVENT.FALLING_EDGE,
      offset,
      seqno,
      line_seqno: l.lineSeqno,
    });
  }
}
