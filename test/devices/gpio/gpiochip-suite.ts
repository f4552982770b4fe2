/**
 * One suite for the gpiochip interface, run against every implementation
 * (node-serialport's mock-binding pattern): our SimGpioKernel always, and a
 * real /dev/gpiochipN through the libc kernel when DEV2MQTT_TEST_GPIOCHIP
 * names one. It speaks only uapi v2 through the kernel seam, so whatever the
 * sim answers here, a Raspberry Pi must answer the same way.
 */
import { describe, expect, it } from 'vitest';
import { encode } from '../../../src/kernel/codec.js';
import { O, type DeviceFile, type Kernel } from '../../../src/kernel/kernel.js';
import { catalogue } from '../../../src/kernel/requests.js';
import {
  gpio_v2_line_config,
  gpio_v2_line_info,
  gpio_v2_line_request,
  gpio_v2_line_values,
  type GpioV2LineConfig,
} from '../../../src/kernel/structs.js';
import type { StructInput } from '../../../src/kernel/codec.js';
import {
  ATTR,
  chipInfo,
  FLAG,
  lineInfo,
  requestLine,
  type EdgeEvent,
  type LineRequest,
  type LineSettings,
} from '../../../src/devices/gpio/uapi.js';

export interface GpiochipTarget {
  readonly name: string;
  readonly kernel: Kernel;
  readonly chipPath: string;
  /** A line the suite may request (and, with `mayDrive`, drive as an output). */
  readonly line: number;
  readonly mayDrive: boolean;
  /** Sets the level the outside world puts on `line` (sim: the model; a Pi: a wired loopback line). Absent: no edge tests. */
  readonly stimulus?: () => { set(level: 0 | 1): void; release(): void };
}

const input: LineSettings = {
  direction: 'in',
  activeLow: false,
  bias: 'as-is',
  drive: 'push-pull',
  edge: 'none',
  debounceUs: 0,
  initial: 0,
};
const output: LineSettings = { ...input, direction: 'out' };

function errnoOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** Collects `count` edge events through watch(), as the gpio kind reads them. */
function nextEvents(line: LineRequest, count: number): Promise<EdgeEvent[]> {
  return new Promise((resolve, reject) => {
    const got: EdgeEvent[] = [];
    const w = line.file.watch({ readable: true }, (ev) => {
      try {
        if (ev.disconnect) throw new Error('line hung up');
        got.push(...line.readEvents());
        if (got.length >= count) {
          w.stop();
          resolve(got);
        }
      } catch (e) {
        w.stop();
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

export function describeGpiochip(target: GpiochipTarget): void {
  const { kernel, chipPath, line } = target;
  const cat = catalogue(kernel.arch);
  const withChip = <T>(f: (chip: DeviceFile) => T): T => {
    const chip = kernel.open(chipPath, O.RDWR | O.CLOEXEC);
    try {
      return f(chip);
    } finally {
      chip.close();
    }
  };
  const rawRequest = (
    chip: DeviceFile,
    r: { offsets?: number[]; num_lines?: number; config?: StructInput<GpioV2LineConfig>; padding?: number[] },
  ): string | undefined =>
    errnoOf(() =>
      chip.ioctl(
        cat.get('GPIO_V2_GET_LINE_IOCTL'),
        encode(gpio_v2_line_request, kernel.arch, { offsets: [line], consumer: 'dev2mqtt-test', num_lines: 1, ...r }),
      ),
    );

  describe(`gpiochip conformance: ${target.name}`, () => {
    it('GPIO_GET_CHIPINFO_IOCTL names the chip, its label and line count', () => {
      const info = withChip((chip) => chipInfo(chip, kernel.arch));
      expect(info.name).toMatch(/^gpiochip\d+$/);
      expect(info.label.length).toBeGreaterThan(0);
      expect(info.lines).toBeGreaterThan(line);
    });

    it('GPIO_V2_GET_LINEINFO_IOCTL: every offset answers; past the end or with padding set is EINVAL', () => {
      withChip((chip) => {
        const { lines } = chipInfo(chip, kernel.arch);
        for (let o = 0; o < lines; o++) expect(lineInfo(chip, kernel.arch, o).offset).toBe(o);
        expect(errnoOf(() => lineInfo(chip, kernel.arch, lines))).toBe('EINVAL');
        const padded = encode(gpio_v2_line_info, kernel.arch, { offset: 0, padding: [0, 1, 0, 0] });
        expect(errnoOf(() => chip.ioctl(cat.get('GPIO_V2_GET_LINEINFO_IOCTL'), padded))).toBe('EINVAL');
      });
    });

    it('a request holds the line: USED with our consumer, a second request is EBUSY, close releases it', () => {
      withChip((chip) => {
        const held = requestLine(kernel, chip, line, 'dev2mqtt', input);
        try {
          const info = lineInfo(chip, kernel.arch, line);
          expect(info.flags & FLAG.USED).toBe(FLAG.USED);
          expect(info.flags & FLAG.INPUT).toBe(FLAG.INPUT);
          expect(info.consumer).toBe('dev2mqtt');
          expect(errnoOf(() => requestLine(kernel, chip, line, 'another', input))).toBe('EBUSY');
        } finally {
          held.close();
        }
        const after = lineInfo(chip, kernel.arch, line);
        expect(after.flags & FLAG.USED).toBe(0);
        expect(after.consumer).toBe('');
        requestLine(kernel, chip, line, 'dev2mqtt', input).close();
      });
    });

    it('GPIO_V2_GET_LINE_IOCTL refuses what gpio_v2_line_flags_validate refuses', () => {
      const cases: Array<[string, number, string]> = [
        ['input and output', FLAG.INPUT | FLAG.OUTPUT, 'EINVAL'],
        ['edges on an output', FLAG.OUTPUT | FLAG.EDGE_RISING, 'EINVAL'],
        ['edges without a direction', FLAG.EDGE_FALLING, 'EINVAL'],
        ['open-drain and open-source', FLAG.OUTPUT | FLAG.OPEN_DRAIN | FLAG.OPEN_SOURCE, 'EINVAL'],
        ['a drive on an input', FLAG.INPUT | FLAG.OPEN_DRAIN, 'EINVAL'],
        ['a bias without a direction', FLAG.BIAS_PULL_UP, 'EINVAL'],
        ['two biases', FLAG.INPUT | FLAG.BIAS_PULL_UP | FLAG.BIAS_PULL_DOWN, 'EINVAL'],
        ['the USED bit, which is not a request flag', FLAG.INPUT | FLAG.USED, 'EINVAL'],
        ['an unknown bit', FLAG.INPUT | (1 << 20), 'EINVAL'],
      ];
      withChip((chip) => {
        for (const [what, flags, errno] of cases) expect(rawRequest(chip, { config: { flags: BigInt(flags) } }), what).toBe(errno);
        expect(
          rawRequest(chip, {
            config: {
              flags: BigInt(FLAG.OUTPUT),
              num_attrs: 1,
              attrs: [{ attr: { id: ATTR.DEBOUNCE, debounce_period_us: 10 }, mask: 1n }],
            },
          }),
          'debounce on an output',
        ).toBe('EINVAL');
        expect(rawRequest(chip, { num_lines: 0 }), 'no lines').toBe('EINVAL');
        expect(rawRequest(chip, { num_lines: 65 }), '65 lines').toBe('EINVAL');
        expect(rawRequest(chip, { padding: [0, 0, 7, 0, 0] }), 'padding').toBe('EINVAL');
        const { lines } = chipInfo(chip, kernel.arch);
        expect(rawRequest(chip, { offsets: [lines], config: { flags: BigInt(FLAG.INPUT) } }), 'offset past the end').toBe('EINVAL');
        expect(
          rawRequest(chip, { offsets: [line, line], num_lines: 2, config: { flags: BigInt(FLAG.INPUT) } }),
          'the same line twice',
        ).toBe('EBUSY');
        // Nothing refused stays held.
        expect(lineInfo(chip, kernel.arch, line).flags & FLAG.USED).toBe(0);
      });
    });

    it('line fd: an empty mask is EINVAL, setting an input is EPERM, a short read is EINVAL, a chip request is EINVAL', () => {
      withChip((chip) => {
        const held = requestLine(kernel, chip, line, 'dev2mqtt', { ...input, edge: 'both' });
        try {
          const values = encode(gpio_v2_line_values, kernel.arch, { mask: 0n });
          expect(errnoOf(() => held.file.ioctl(cat.get('GPIO_V2_LINE_GET_VALUES_IOCTL'), values))).toBe('EINVAL');
          expect(errnoOf(() => held.setValue(1))).toBe('EPERM');
          expect(errnoOf(() => held.file.read(Buffer.alloc(8)))).toBe('EINVAL');
          expect(errnoOf(() => held.file.ioctl(cat.get('GPIO_GET_CHIPINFO_IOCTL'), Buffer.alloc(68)))).toBe('EINVAL');
          expect([0, 1]).toContain(held.getValue());
        } finally {
          held.close();
        }
        expect(errnoOf(() => held.getValue())).toBe('EBADF');
      });
    });

    it.skipIf(!target.mayDrive)('an output reads back what it drives, active-low included, and can turn into an input', () => {
      withChip((chip) => {
        const out = requestLine(kernel, chip, line, 'dev2mqtt', { ...output, initial: 1 });
        try {
          expect(out.getValue()).toBe(1);
          out.setValue(0);
          expect(out.getValue()).toBe(0);
          expect(lineInfo(chip, kernel.arch, line).flags & FLAG.OUTPUT).toBe(FLAG.OUTPUT);
          const cfg = encode(gpio_v2_line_config, kernel.arch, { flags: BigInt(FLAG.INPUT) });
          out.file.ioctl(cat.get('GPIO_V2_LINE_SET_CONFIG_IOCTL'), cfg);
          expect(lineInfo(chip, kernel.arch, line).flags & FLAG.INPUT).toBe(FLAG.INPUT);
        } finally {
          out.close();
        }
        const low = requestLine(kernel, chip, line, 'dev2mqtt', { ...output, activeLow: true, initial: 1 });
        try {
          expect(low.getValue()).toBe(1);
          expect(lineInfo(chip, kernel.arch, line).flags & FLAG.ACTIVE_LOW).toBe(FLAG.ACTIVE_LOW);
        } finally {
          low.close();
        }
      });
    });

    describe.skipIf(!target.stimulus)('edge events', () => {
      it('both edges: rising then falling, with sequence numbers and kernel timestamps in order', async () => {
        const outside = target.stimulus?.();
        if (!outside) return;
        try {
          outside.set(0);
          // The line fd lives on without the chip fd, as it does in the kernel.
          const held = withChip((chip) => requestLine(kernel, chip, line, 'dev2mqtt', { ...input, edge: 'both' }));
          try {
            const events = nextEvents(held, 2);
            outside.set(1);
            outside.set(0);
            const [rise, fall] = await events;
            expect(rise).toMatchObject({ edge: 'rising', offset: line, seqno: 1, lineSeqno: 1 });
            expect(fall).toMatchObject({ edge: 'falling', offset: line, seqno: 2, lineSeqno: 2 });
            expect((fall?.timestampNs ?? 0n) >= (rise?.timestampNs ?? 1n)).toBe(true);
            expect(held.getValue()).toBe(0);
          } finally {
            held.close();
          }
        } finally {
          outside.release();
        }
      });

      it('active-low turns a physical fall into a rising edge; a rising-only request ignores falls', async () => {
        const outside = target.stimulus?.();
        if (!outside) return;
        try {
          outside.set(1);
          const held = withChip((chip) => requestLine(kernel, chip, line, 'dev2mqtt', { ...input, activeLow: true, edge: 'rising' }));
          try {
            expect(held.getValue()).toBe(0);
            const events = nextEvents(held, 2);
            outside.set(0); // physical fall = logical rise
            outside.set(1); // logical fall: not asked for
            outside.set(0);
            const got = await events;
            expect(got.map((e) => [e.edge, e.seqno, e.lineSeqno])).toEqual([
              ['rising', 1, 1],
              ['rising', 2, 2],
            ]);
            expect(held.getValue()).toBe(1);
          } finally {
            held.close();
          }
        } finally {
          outside.release();
        }
      });
    });
  });
}
