/** What the gpio device needs from a line, whichever kernel interface holds it. */
import type { DeviceFile } from '../../kernel/kernel.js';
import { parseOnOff } from '../switch-value.js';
import type { Bias, Direction, Drive, Edge, EdgeEvent, LineSettings } from './uapi.js';

export interface GpioOptions {
  readonly chip: string;
  readonly line: number | string;
  readonly direction: Direction;
  readonly activeLow: boolean;
  readonly bias: Bias;
  readonly drive: Drive;
  readonly edge: Edge;
  readonly debounceMs: number;
  readonly initial: string | number | boolean;
  readonly interface: 'cdev' | 'sysfs';
  readonly sysfsRoot: string;
  readonly pollMs: number;
  /** Home Assistant's event entity of an input with edges: press/release, or rising/falling. */
  readonly eventTypes: 'press' | 'edge';
  readonly simToggleMs?: number;
}

export interface LineEvents {
  /** Edge events read in one go, and the line's value after them. */
  edges(events: readonly EdgeEvent[], value: 0 | 1): void;
  /** The line or its chip went away. */
  lost(reason: Error): void;
}

export interface GpioBackend {
  /** Where the line is, for the state: chip path and label, offset, name, sysfs number … */
  readonly where: Readonly<Record<string, unknown>>;
  open(): Promise<void>;
  close(): Promise<void>;
  /** The logical value (active-low applied). */
  read(): Promise<0 | 1>;
  write(value: 0 | 1): Promise<void>;
  /** The line request's file, where the interface has one (the character device), for raw ioctls. */
  rawFile?(): DeviceFile | undefined;
}

/** The options as the kernel's line settings (debounce in µs, `initial` as a bit). */
export function settingsOf(o: GpioOptions): LineSettings {
  return {
    direction: o.direction,
    activeLow: o.activeLow,
    bias: o.bias,
    drive: o.drive,
    edge: o.edge,
    debounceUs: Math.round(o.debounceMs * 1000),
    initial: parseOnOff(o.initial) ?? 0,
  };
}
