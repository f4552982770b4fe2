/** A pwmchip model on a fresh sim tree, as the kind's sim makes it for a device with these options. */
import type { PwmOptions } from '../../../src/devices/pwm/device.js';
import { pwmKind } from '../../../src/devices/pwm/kind.js';
import { SimPwmChip, simChipConfig } from '../../../src/devices/pwm/sim.js';
import { SimSysfs } from '../../../src/kernel/sysfs-sim.js';

export function simChip(options: Record<string, unknown> = {}): { tree: SimSysfs; chip: SimPwmChip; options: PwmOptions } {
  const parsed = pwmKind.options(true).parse(options);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const tree = new SimSysfs('/sys');
  return { tree, chip: new SimPwmChip(tree, simChipConfig(parsed.value)), options: parsed.value };
}
