/**
 * The kernel structs the device kinds exchange with drivers, each declared
 * once. Comments name the header each one mirrors.
 */
import type { Arch } from './arch.js';
import { arrayOf, defineStruct, defineUnion, type Fields } from './ctypes.js';

// ---- linux/mtio.h -------------------------------------------------------

export interface MtOp {
  mt_op: number;
  mt_count: number;
}
export const mtop = defineStruct<MtOp>('mtop', [
  ['mt_op', 'i16'],
  ['mt_count', 'i32'],
]);

export interface MtGet {
  mt_type: number;
  mt_resid: number;
  mt_dsreg: number;
  mt_gstat: number;
  mt_erreg: number;
  mt_fileno: number;
  mt_blkno: number;
}
/** 48 bytes with an 8-byte long, 28 with a 4-byte one: MTIOCGET's number changes with it. */
export const mtget = defineStruct<MtGet>('mtget', [
  ['mt_type', 'long'],
  ['mt_resid', 'long'],
  ['mt_dsreg', 'long'],
  ['mt_gstat', 'long'],
  ['mt_erreg', 'long'],
  ['mt_fileno', 'daddr'],
  ['mt_blkno', 'daddr'],
]);

export interface MtPos {
  mt_blkno: number;
}
export const mtpos = defineStruct<MtPos>('mtpos', [['mt_blkno', 'long']]);

// ---- asm/termbits.h -----------------------------------------------------

export interface Termios2 {
  c_iflag: number;
  c_oflag: number;
  c_cflag: number;
  c_lflag: number;
  c_line: number;
  c_cc: number[];
  c_ispeed: number;
  c_ospeed: number;
}

const ccCount = (arch: Arch): number => {
  switch (arch.tty) {
    case 'mips':
      return 23;
    // sparc's termios2 carries NCCS+2 (17+2) so vmin/vtime get their own slots.
    default:
      return 19;
  }
};

const flagFields: Fields = [
  ['c_iflag', 'u32'],
  ['c_oflag', 'u32'],
  ['c_cflag', 'u32'],
  ['c_lflag', 'u32'],
];

/**
 * `struct termios2`. powerpc has no termios2: its plain termios already carries
 * the speeds (and puts c_line after c_cc), so the same shape serves TCGETS there.
 */
export const termios2 = defineStruct<Termios2>('termios2', (arch) =>
  arch.tty === 'powerpc'
    ? [...flagFields, ['c_cc', arrayOf('u8', 19)], ['c_line', 'u8'], ['c_ispeed', 'u32'], ['c_ospeed', 'u32']]
    : [...flagFields, ['c_line', 'u8'], ['c_cc', arrayOf('u8', ccCount(arch))], ['c_ispeed', 'u32'], ['c_ospeed', 'u32']],
);

export interface KernelTermios {
  c_iflag: number;
  c_oflag: number;
  c_cflag: number;
  c_lflag: number;
  c_line: number;
  c_cc: number[];
}
/** The kernel's `struct termios` (not glibc's): what TCGETS/TCSETS move on generic arches. */
export const termios = defineStruct<KernelTermios>('termios', (arch) => {
  switch (arch.tty) {
    case 'powerpc':
      return [...flagFields, ['c_cc', arrayOf('u8', 19)], ['c_line', 'u8'], ['c_ispeed', 'u32'], ['c_ospeed', 'u32']];
    case 'sparc':
      return [...flagFields, ['c_line', 'u8'], ['c_cc', arrayOf('u8', 17)]];
    default:
      return [...flagFields, ['c_line', 'u8'], ['c_cc', arrayOf('u8', ccCount(arch))]];
  }
});

// ---- linux/serial.h -----------------------------------------------------

export interface SerialIcounter {
  cts: number;
  dsr: number;
  rng: number;
  dcd: number;
  rx: number;
  tx: number;
  frame: number;
  overrun: number;
  parity: number;
  brk: number;
  buf_overrun: number;
  reserved: number[];
}
export const serial_icounter_struct = defineStruct<SerialIcounter>('serial_icounter_struct', [
  ['cts', 'i32'],
  ['dsr', 'i32'],
  ['rng', 'i32'],
  ['dcd', 'i32'],
  ['rx', 'i32'],
  ['tx', 'i32'],
  ['frame', 'i32'],
  ['overrun', 'i32'],
  ['parity', 'i32'],
  ['brk', 'i32'],
  ['buf_overrun', 'i32'],
  ['reserved', arrayOf('i32', 9)],
]);

export interface SerialStruct {
  type: number;
  line: number;
  port: number;
  irq: number;
  flags: number;
  xmit_fifo_size: number;
  custom_divisor: number;
  baud_base: number;
  close_delay: number;
  io_type: number;
  reserved_char: number[];
  hub6: number;
  closing_wait: number;
  closing_wait2: number;
  iomem_base: number;
  iomem_reg_shift: number;
  port_high: number;
  iomap_base: number;
}
export const serial_struct = defineStruct<SerialStruct>('serial_struct', [
  ['type', 'i32'],
  ['line', 'i32'],
  ['port', 'u32'],
  ['irq', 'i32'],
  ['flags', 'i32'],
  ['xmit_fifo_size', 'i32'],
  ['custom_divisor', 'i32'],
  ['baud_base', 'i32'],
  ['close_delay', 'u16'],
  ['io_type', 'i8'],
  ['reserved_char', arrayOf('i8', 1)],
  ['hub6', 'i32'],
  ['closing_wait', 'u16'],
  ['closing_wait2', 'u16'],
  ['iomem_base', 'ptr'],
  ['iomem_reg_shift', 'u16'],
  ['port_high', 'u32'],
  ['iomap_base', 'ulong'],
]);

// ---- linux/gpio.h (uapi v2) ---------------------------------------------

export const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;
export const GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

export interface GpioChipInfo {
  name: string;
  label: string;
  lines: number;
}
export const gpiochip_info = defineStruct<GpioChipInfo>('gpiochip_info', [
  ['name', arrayOf('char', GPIO_MAX_NAME_SIZE)],
  ['label', arrayOf('char', GPIO_MAX_NAME_SIZE)],
  ['lines', 'u32'],
]);

export interface GpioV2LineValues {
  bits: bigint;
  mask: bigint;
}
export const gpio_v2_line_values = defineStruct<GpioV2LineValues>('gpio_v2_line_values', [
  ['bits', 'aligned_u64'],
  ['mask', 'aligned_u64'],
]);

interface AttrUnion {
  flags: bigint;
  values: bigint;
  debounce_period_us: number;
}
const gpioAttrUnion = defineUnion<AttrUnion>('gpio_v2_line_attribute_u', [
  ['flags', 'aligned_u64'],
  ['values', 'aligned_u64'],
  ['debounce_period_us', 'u32'],
]);

export interface GpioV2LineAttribute extends AttrUnion {
  id: number;
  padding: number;
}
export const gpio_v2_line_attribute = defineStruct<GpioV2LineAttribute>('gpio_v2_line_attribute', [
  ['id', 'u32'],
  ['padding', 'u32'],
  ['', gpioAttrUnion],
]);

export interface GpioV2LineConfigAttribute {
  attr: GpioV2LineAttribute;
  mask: bigint;
}
export const gpio_v2_line_config_attribute = defineStruct<GpioV2LineConfigAttribute>('gpio_v2_line_config_attribute', [
  ['attr', gpio_v2_line_attribute],
  ['mask', 'aligned_u64'],
]);

export interface GpioV2LineConfig {
  flags: bigint;
  num_attrs: number;
  padding: number[];
  attrs: GpioV2LineConfigAttribute[];
}
export const gpio_v2_line_config = defineStruct<GpioV2LineConfig>('gpio_v2_line_config', [
  ['flags', 'aligned_u64'],
  ['num_attrs', 'u32'],
  ['padding', arrayOf('u32', 5)],
  ['attrs', arrayOf(gpio_v2_line_config_attribute, GPIO_V2_LINE_NUM_ATTRS_MAX)],
]);

export interface GpioV2LineRequest {
  offsets: number[];
  consumer: string;
  config: GpioV2LineConfig;
  num_lines: number;
  event_buffer_size: number;
  padding: number[];
  fd: number;
}
export const gpio_v2_line_request = defineStruct<GpioV2LineRequest>('gpio_v2_line_request', [
  ['offsets', arrayOf('u32', GPIO_V2_LINES_MAX)],
  ['consumer', arrayOf('char', GPIO_MAX_NAME_SIZE)],
  ['config', gpio_v2_line_config],
  ['num_lines', 'u32'],
  ['event_buffer_size', 'u32'],
  ['padding', arrayOf('u32', 5)],
  ['fd', 'i32'],
]);

export interface GpioV2LineInfo {
  name: string;
  consumer: string;
  offset: number;
  num_attrs: number;
  flags: bigint;
  attrs: GpioV2LineAttribute[];
  padding: number[];
}
export const gpio_v2_line_info = defineStruct<GpioV2LineInfo>('gpio_v2_line_info', [
  ['name', arrayOf('char', GPIO_MAX_NAME_SIZE)],
  ['consumer', arrayOf('char', GPIO_MAX_NAME_SIZE)],
  ['offset', 'u32'],
  ['num_attrs', 'u32'],
  ['flags', 'aligned_u64'],
  ['attrs', arrayOf(gpio_v2_line_attribute, GPIO_V2_LINE_NUM_ATTRS_MAX)],
  ['padding', arrayOf('u32', 4)],
]);

export interface GpioV2LineInfoChanged {
  info: GpioV2LineInfo;
  timestamp_ns: bigint;
  event_type: number;
  padding: number[];
}
export const gpio_v2_line_info_changed = defineStruct<GpioV2LineInfoChanged>('gpio_v2_line_info_changed', [
  ['info', gpio_v2_line_info],
  ['timestamp_ns', 'aligned_u64'],
  ['event_type', 'u32'],
  ['padding', arrayOf('u32', 5)],
]);

export interface GpioV2LineEvent {
  timestamp_ns: bigint;
  id: number;
  offset: number;
  seqno: number;
  line_seqno: number;
  padding: number[];
}
export const gpio_v2_line_event = defineStruct<GpioV2LineEvent>('gpio_v2_line_event', [
  ['timestamp_ns', 'aligned_u64'],
  ['id', 'u32'],
  ['offset', 'u32'],
  ['seqno', 'u32'],
  ['line_seqno', 'u32'],
  ['padding', arrayOf('u32', 6)],
]);

// ---- poll.h ---------------------------------------------------------------

export interface PollFd {
  fd: number;
  events: number;
  revents: number;
}
export const pollfd = defineStruct<PollFd>('pollfd', [
  ['fd', 'i32'],
  ['events', 'i16'],
  ['revents', 'i16'],
]);

/** Every struct above, for the ABI listing and the gcc cross-check. */
export const ALL_STRUCTS = [
  mtop,
  mtget,
  mtpos,
  termios,
  termios2,
  serial_icounter_struct,
  serial_struct,
  gpiochip_info,
  gpio_v2_line_values,
  gpio_v2_line_attribute,
  gpio_v2_line_config_attribute,
  gpio_v2_line_config,
  gpio_v2_line_request,
  gpio_v2_line_info,
  gpio_v2_line_info_changed,
  gpio_v2_line_event,
  pollfd,
] as const;
