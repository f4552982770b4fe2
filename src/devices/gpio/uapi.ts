/**
 * The GPIO character device, uapi v2 (linux/gpio.h): flag and attribute
 * numbers, and the few calls a line needs, as struct buffers through the
 * kernel seam. The structs are declared (and gcc-checked) in kernel/structs.ts;
 * these constants are checked against the header by test/kernel/c-abi.ts.
 */
import type { Arch } from '../../kernel/arch.js';
import { alloc, decode, encode, readField, type StructInput } from '../../kernel/codec.js';
import { sizeOf } from '../../kernel/ctypes.js';
import type { DeviceFile, Kernel } from '../../kernel/kernel.js';
import { catalogue } from '../../kernel/requests.js';
import {
  gpio_v2_line_event,
  gpio_v2_line_info,
  gpio_v2_line_request,
  gpio_v2_line_values,
  gpiochip_info,
  type GpioChipInfo,
  type GpioV2LineConfig,
} from '../../kernel/structs.js';

/** enum gpio_v2_line_flag: the bit of each flag (all below 2^13, so plain numbers are exact). */
export const FLAG = {
  USED: 1 << 0,
  ACTIVE_LOW: 1 << 1,
  INPUT: 1 << 2,
  OUTPUT: 1 << 3,
  EDGE_RISING: 1 << 4,
  EDGE_FALLING: 1 << 5,
  OPEN_DRAIN: 1 << 6,
  OPEN_SOURCE: 1 << 7,
  BIAS_PULL_UP: 1 << 8,
  BIAS_PULL_DOWN: 1 << 9,
  BIAS_DISABLED: 1 << 10,
  EVENT_CLOCK_REALTIME: 1 << 11,
  EVENT_CLOCK_HTE: 1 << 12,
} as const;

/** enum gpio_v2_line_attr_id */
export const ATTR = { FLAGS: 1, OUTPUT_VALUES: 2, DEBOUNCE: 3 } as const;
/** enum gpio_v2_line_event_id */
export const EVENT = { RISING_EDGE: 1, FALLING_EDGE: 2 } as const;

/** The constants as the header names them, for the gcc cross-check. */
export function gpioConstants(): Array<[string, number]> {
  return [
    ...Object.entries(FLAG).map(([k, v]): [string, number] => [`GPIO_V2_LINE_FLAG_${k}`, v]),
    ...Object.entries(ATTR).map(([k, v]): [string, number] => [`GPIO_V2_LINE_ATTR_ID_${k}`, v]),
    ...Object.entries(EVENT).map(([k, v]): [string, number] => [`GPIO_V2_LINE_EVENT_${k}`, v]),
  ];
}

export type Direction = 'in' | 'out';
export type Bias = 'as-is' | 'pull-up' | 'pull-down' | 'disabled';
export type Drive = 'push-pull' | 'open-drain' | 'open-source';
export type Edge = 'none' | 'rising' | 'falling' | 'both';

export interface LineSettings {
  readonly direction: Direction;
  readonly activeLow: boolean;
  readonly bias: Bias;
  readonly drive: Drive;
  readonly edge: Edge;
  readonly debounceUs: number;
  /** Logical value an output starts with. */
  readonly initial: 0 | 1;
}

const BIAS_FLAG: Record<Bias, number> = {
  'as-is': 0,
  'pull-up': FLAG.BIAS_PULL_UP,
  'pull-down': FLAG.BIAS_PULL_DOWN,
  disabled: FLAG.BIAS_DISABLED,
};
const DRIVE_FLAG: Record<Drive, number> = { 'push-pull': 0, 'open-drain': FLAG.OPEN_DRAIN, 'open-source': FLAG.OPEN_SOURCE };
const EDGE_FLAG: Record<Edge, number> = {
  none: 0,
  rising: FLAG.EDGE_RISING,
  falling: FLAG.EDGE_FALLING,
  both: FLAG.EDGE_RISING | FLAG.EDGE_FALLING,
};

export function lineFlags(s: LineSettings): number {
  let f = s.direction === 'out' ? FLAG.OUTPUT | DRIVE_FLAG[s.drive] : FLAG.INPUT | EDGE_FLAG[s.edge];
  if (s.activeLow) f |= FLAG.ACTIVE_LOW;
  return f | BIAS_FLAG[s.bias];
}

/** A config for one line (index 0 of the request): flags, plus the output value or the debounce period. */
export function lineConfig(s: LineSettings): StructInput<GpioV2LineConfig> {
  const attrs =
    s.direction === 'out'
      ? [{ attr: { id: ATTR.OUTPUT_VALUES, values: BigInt(s.initial) }, mask: 1n }]
      : s.debounceUs > 0
        ? [{ attr: { id: ATTR.DEBOUNCE, debounce_period_us: s.debounceUs }, mask: 1n }]
        : [];
  return { flags: BigInt(lineFlags(s)), num_attrs: attrs.length, attrs };
}

export interface LineInfo {
  readonly offset: number;
  readonly name: string;
  readonly consumer: string;
  readonly flags: number;
  readonly debounceUs?: number;
}

export function chipInfo(chip: DeviceFile, arch: Arch): GpioChipInfo {
  const buf = alloc(gpiochip_info, arch);
  chip.ioctl(catalogue(arch).get('GPIO_GET_CHIPINFO_IOCTL'), buf);
  return decode(gpiochip_info, arch, buf);
}

export function lineInfo(chip: DeviceFile, arch: Arch, offset: number): LineInfo {
  const buf = encode(gpio_v2_line_info, arch, { offset });
  chip.ioctl(catalogue(arch).get('GPIO_V2_GET_LINEINFO_IOCTL'), buf);
  const d = decode(gpio_v2_line_info, arch, buf);
  const debounce = d.attrs.slice(0, d.num_attrs).find((a) => a.id === ATTR.DEBOUNCE);
  return {
    offset: d.offset,
    name: d.name,
    consumer: d.consumer,
    flags: Number(d.flags),
    ...(debounce ? { debounceUs: debounce.debounce_period_us } : {}),
  };
}

export interface EdgeEvent {
  readonly edge: 'rising' | 'falling';
  /** CLOCK_MONOTONIC (or CLOCK_REALTIME when asked) in ns, as the kernel stamped it. */
  readonly timestampNs: bigint;
  readonly offset: number;
  readonly seqno: number;
  readonly lineSeqno: number;
}

/** A held line (GPIO_V2_GET_LINE_IOCTL's fd): values, reconfiguration, edge events; close() releases it. */
export class LineRequest {
  readonly #values: Buffer;
  readonly #events: Buffer;
  readonly #eventSize: number;

  constructor(
    readonly file: DeviceFile,
    readonly arch: Arch,
    readonly offset: number,
  ) {
    this.#values = alloc(gpio_v2_line_values, arch);
    this.#eventSize = sizeOf(gpio_v2_line_event, arch);
    this.#events = Buffer.alloc(this.#eventSize * 16);
  }

  getValue(): 0 | 1 {
    encode(gpio_v2_line_values, this.arch, { mask: 1n }, this.#values);
    this.file.ioctl(catalogue(this.arch).get('GPIO_V2_LINE_GET_VALUES_IOCTL'), this.#values);
    return decode(gpio_v2_line_values, this.arch, this.#values).bits & 1n ? 1 : 0;
  }

  setValue(v: 0 | 1): void {
    encode(gpio_v2_line_values, this.arch, { mask: 1n, bits: BigInt(v) }, this.#values);
    this.file.ioctl(catalogue(this.arch).get('GPIO_V2_LINE_SET_VALUES_IOCTL'), this.#values);
  }

  /**
   * One read(2) of whole gpio_v2_line_event records. The kernel hands out line
   * fds without O_NONBLOCK, so callers read once per readiness report: the
   * fifo then holds at least one record and the read cannot block.
   */
  readEvents(): EdgeEvent[] {
    const n = this.file.read(this.#events);
    if (!n) return [];
    const out: EdgeEvent[] = [];
    for (let at = 0; at + this.#eventSize <= n; at += this.#eventSize) {
      const e = decode(gpio_v2_line_event, this.arch, this.#events, at);
      out.push({
        edge: e.id === EVENT.RISING_EDGE ? 'rising' : 'falling',
        timestampNs: e.timestamp_ns,
        offset: e.offset,
        seqno: e.seqno,
        lineSeqno: e.line_seqno,
      });
    }
    return out;
  }

  close(): void {
    this.file.close();
  }
}

/** GPIO_V2_GET_LINE_IOCTL for one line; the fd it returns is wrapped through the kernel seam. */
export function requestLine(kernel: Kernel, chip: DeviceFile, offset: number, consumer: string, s: LineSettings): LineRequest {
  const arch = kernel.arch;
  const buf = encode(gpio_v2_line_request, arch, { offsets: [offset], consumer, num_lines: 1, config: lineConfig(s) });
  chip.ioctl(catalogue(arch).get('GPIO_V2_GET_LINE_IOCTL'), buf);
  const fd = Number(readField(gpio_v2_line_request, arch, buf, 'fd'));
  return new LineRequest(kernel.adopt(fd, `${chip.path} line ${offset}`), arch, offset);
}
