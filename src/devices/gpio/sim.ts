/**
 * The gpio kind's sim: a gpiochip model behind the kernel seam, as many lines
 * as a Raspberry Pi's main bank (GPIO0 … GPIO53). With `simToggleMs` the
 * outside world flips the configured input every so often (a button pressing
 * itself), as long as the agent runs.
 */
import path from 'node:path';
import type { SimContext, SimParts } from '../kind.js';
import type { GpioOptions } from './backend.js';
import { chipPath } from './chip.js';
import type { SimChipSpec } from './sim-chip.js';
import { SimGpioKernel } from './sim-kernel.js';

const SIM_LINES = Array.from({ length: 54 }, (_, i) => `GPIO${i}`);
const SIM_LABEL = 'dev2mqtt-sim';

function simChip(chip: string): SimChipSpec {
  const direct = chipPath(chip);
  const name = direct && /^gpiochip\d+$/.test(path.basename(direct)) ? path.basename(direct) : 'gpiochip0';
  // A label in the config names the sim chip, so label lookup finds it at /dev/gpiochip0.
  return { path: direct ?? '/dev/gpiochip0', name, label: direct ? SIM_LABEL : chip, lineNames: SIM_LINES };
}

export function gpioSim(ctx: SimContext<GpioOptions>): SimParts {
  const o = ctx.options;
  const spec = simChip(o.chip);
  const kernel = new SimGpioKernel([spec]);
  const offset = typeof o.line === 'number' ? o.line : spec.lineNames.indexOf(o.line);
  const toggleMs = o.simToggleMs ?? 0;
  const chip = kernel.chip(spec.path);
  if (chip && toggleMs > 0 && o.direction === 'in' && offset >= 0 && offset < spec.lineNames.length) {
    const timer = setInterval(() => chip.toggle(offset), toggleMs);
    timer.unref();
    ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
  return { kernel };
}
