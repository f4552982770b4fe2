/**
 * Finding the chip and the line a config names. `chip` is `gpiochip0`, a path
 * (`/dev/gpiochip4`), or a label (`pinctrl-rp1`: the stable name on a Pi 5,
 * whose chip numbers moved between kernels). `line` is an offset or a line
 * name (`GPIO17`), found with GPIO_V2_GET_LINEINFO_IOCTL.
 */
import type { DeviceFile, Kernel } from '../../kernel/kernel.js';
import { O } from '../../kernel/kernel.js';
import type { GpioChipInfo } from '../../kernel/structs.js';
import { chipInfo, lineInfo } from './uapi.js';

/** How far a label search looks: /dev/gpiochip0 … /dev/gpiochip63 (numbers have gaps). */
const MAX_CHIPS = 64;

/** The device path for `gpiochipN` or a path; undefined for a label. */
export function chipPath(chip: string): string | undefined {
  if (chip.startsWith('/')) return chip;
  if (/^gpiochip\d+$/.test(chip)) return `/dev/${chip}`;
  return undefined;
}

export interface OpenChip {
  readonly file: DeviceFile;
  readonly path: string;
  readonly info: GpioChipInfo;
}

function openAt(kernel: Kernel, path: string): OpenChip {
  const file = kernel.open(path, O.RDWR | O.CLOEXEC);
  try {
    return { file, path, info: chipInfo(file, kernel.arch) };
  } catch (e) {
    file.close();
    throw e;
  }
}

export function openChip(kernel: Kernel, chip: string): OpenChip {
  const direct = chipPath(chip);
  if (direct) return openAt(kernel, direct);
  const seen: string[] = [];
  for (let n = 0; n < MAX_CHIPS; n++) {
    const path = `/dev/gpiochip${n}`;
    let found: OpenChip;
    try {
      found = openAt(kernel, path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT') seen.push(`${path} (${code ?? String(e)})`);
      continue;
    }
    if (found.info.label === chip) return found;
    seen.push(`${found.info.name} '${found.info.label}'`);
    found.file.close();
  }
  throw new Error(`no GPIO chip labelled '${chip}'; found ${seen.length ? seen.join(', ') : 'none'}`);
}

export interface ResolvedLine {
  readonly offset: number;
  readonly name: string;
}

/** An offset (checked against the chip's line count) or a line name (searched). */
export function resolveLine(kernel: Kernel, chip: OpenChip, line: number | string): ResolvedLine {
  const asNumber = typeof line === 'number' ? line : /^\d+$/.test(line) ? Number(line) : undefined;
  if (asNumber !== undefined) {
    if (asNumber >= chip.info.lines) throw new Error(`${chip.path} has ${chip.info.lines} lines; there is no line ${asNumber}`);
    return { offset: asNumber, name: lineInfo(chip.file, kernel.arch, asNumber).name };
  }
  for (let offset = 0; offset < chip.info.lines; offset++) {
    if (lineInfo(chip.file, kernel.arch, offset).name === line) return { offset, name: String(line) };
  }
  throw new Error(`${chip.path} ('${chip.info.label}') has no line named '${line}'`);
}
