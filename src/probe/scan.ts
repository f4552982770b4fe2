/**
 * `dev2mqtt probe`: what this machine has that dev2mqtt can drive. sysfs and
 * /dev are read from configurable roots (tests point them at fake trees, as
 * Telegraf's HOST_SYS does); GPIO chips are asked through the kernel seam
 * with the gpio kind's own uapi helpers, so a sim kernel answers in tests.
 * Nothing is opened for writing, no line is requested. Every item that
 * cannot be read becomes a problem line, never a crash.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { chipInfo, FLAG, lineInfo } from '../devices/gpio/uapi.js';
import { parseTriggers } from '../devices/led/triggers.js';
import { O, type Kernel } from '../kernel/kernel.js';

export interface ProbeRoots {
  /** Where sysfs is mounted: /sys. */
  readonly sysRoot: string;
  /** Where device nodes live: /dev. */
  readonly devRoot: string;
}

export interface LedFound {
  readonly name: string;
  readonly maxBrightness: number | undefined;
  readonly trigger: string | undefined;
  readonly triggers: readonly string[];
}
export interface LineFound {
  readonly offset: number;
  readonly name: string;
  readonly consumer: string;
  readonly used: boolean;
  readonly direction: 'in' | 'out';
}
export interface ChipFound {
  readonly path: string;
  readonly name: string;
  readonly label: string;
  readonly lines: readonly LineFound[];
}
export interface SerialFound {
  readonly path: string;
  readonly name: string;
  readonly driver: string | undefined;
  readonly byId: string | undefined;
}
export interface TapeFound {
  readonly path: string;
  readonly name: string;
  readonly vendor: string | undefined;
  readonly model: string | undefined;
  readonly revision: string | undefined;
}

export interface ProbeResult {
  readonly leds: LedFound[];
  readonly gpiochips: ChipFound[];
  readonly serial: SerialFound[];
  readonly tapes: TapeFound[];
  /** What could not be read, and why (permissions, odd attributes). */
  readonly problems: string[];
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort(naturally);
  } catch {
    return [];
  }
}

/** ttyUSB2 before ttyUSB10. */
function naturally(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function attr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function link(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

const reason = (e: unknown): string => (e as { code?: string }).code ?? (e as Error).message;

export function scanLeds(roots: ProbeRoots, problems: string[]): LedFound[] {
  const dir = path.join(roots.sysRoot, 'class', 'leds');
  return list(dir).map((name) => {
    const max = attr(path.join(dir, name, 'max_brightness'));
    const triggerText = attr(path.join(dir, name, 'trigger'));
    if (triggerText === undefined) problems.push(`LED ${name}: cannot read ${path.join(dir, name, 'trigger')}`);
    const t = triggerText === undefined ? undefined : parseTriggers(triggerText);
    return {
      name,
      maxBrightness: max !== undefined && /^\d+$/.test(max) ? Number(max) : undefined,
      trigger: t?.selected,
      triggers: t?.available ?? [],
    };
  });
}

export function scanGpio(roots: ProbeRoots, kernel: Kernel, problems: string[]): ChipFound[] {
  const found: ChipFound[] = [];
  for (const name of list(roots.devRoot).filter((n) => /^gpiochip\d+$/.test(n))) {
    const file = path.join(roots.devRoot, name);
    let chip;
    try {
      chip = kernel.open(file, O.RDONLY | O.CLOEXEC);
    } catch (e) {
      problems.push(`${file}: ${reason(e)}${reason(e) === 'EACCES' ? ' (add this user to the gpio group)' : ''}`);
      continue;
    }
    try {
      const info = chipInfo(chip, kernel.arch);
      const lines: LineFound[] = [];
      for (let offset = 0; offset < info.lines; offset++) {
        const l = lineInfo(chip, kernel.arch, offset);
        lines.push({
          offset,
          name: l.name,
          consumer: l.consumer,
          used: (l.flags & FLAG.USED) !== 0,
          direction: l.flags & FLAG.OUTPUT ? 'out' : 'in',
        });
      }
      found.push({ path: file, name: info.name, label: info.label, lines });
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    } finally {
      chip.close();
    }
  }
  return found;
}

const SERIAL = /^tty(USB|ACM|AMA|S)\d+$/;

export function scanSerial(roots: ProbeRoots): SerialFound[] {
  // /dev/serial/by-id names survive reboots and replugging; map them onto their ports.
  const byIdDir = path.join(roots.devRoot, 'serial', 'by-id');
  const byId = new Map<string, string>();
  for (const name of list(byIdDir)) {
    const target = link(path.join(byIdDir, name));
    if (target) byId.set(path.basename(target), path.join(byIdDir, name));
  }
  const found: SerialFound[] = [];
  for (const name of list(roots.devRoot).filter((n) => SERIAL.test(n))) {
    const sys = path.join(roots.sysRoot, 'class', 'tty', name);
    const driverLink = link(path.join(sys, 'device', 'driver'));
    const driver = driverLink ? path.basename(driverLink) : undefined;
    if (name.startsWith('ttyS')) {
      // The 8250 driver registers ttyS0…ttyS31 whether or not a UART is there: keep the ones with a driver and a port type.
      if (!driver) continue;
      const type = attr(path.join(sys, 'type'));
      if (type !== undefined && type === '0') continue;
    }
    found.push({ path: path.join(roots.devRoot, name), name, driver, byId: byId.get(name) });
  }
  return found;
}

export function scanTapes(roots: ProbeRoots, problems: string[]): TapeFound[] {
  return list(roots.devRoot)
    .filter((n) => /^nst\d+$/.test(n))
    .map((name) => {
      // The st driver's class device links to the SCSI device, whose vendor/model are space-padded INQUIRY fields.
      const dev = path.join(roots.sysRoot, 'class', 'scsi_tape', name, 'device');
      const vendor = attr(path.join(dev, 'vendor'));
      if (vendor === undefined) problems.push(`${name}: no SCSI vendor/model under ${dev}`);
      return {
        path: path.join(roots.devRoot, name),
        name,
        vendor,
        model: attr(path.join(dev, 'model')),
        revision: attr(path.join(dev, 'rev')),
      };
    });
}

export function probeMachine(roots: ProbeRoots, kernel: Kernel): ProbeResult {
  const problems: string[] = [];
  return {
    leds: scanLeds(roots, problems),
    gpiochips: scanGpio(roots, kernel, problems),
    serial: scanSerial(roots),
    tapes: scanTapes(roots, problems),
    problems,
  };
}
