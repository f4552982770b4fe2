/** The tape kind's sim: the st model behind the kernel seam, its journal and faults file in the device's state dir. */
import path from 'node:path';
import { hostArch } from '../../../kernel/arch.js';
import type { SimContext, SimParts } from '../../kind.js';
import { SIM_DEFAULTS, type TapeOptions } from '../options.js';
import { SimTapeKernel } from './kernel.js';

export function tapeSim(ctx: SimContext<TapeOptions>): SimParts {
  const sim = ctx.options.sim ?? SIM_DEFAULTS;
  const kernel = new SimTapeKernel(
    {
      devicePath: ctx.options.path,
      imageFile: path.join(ctx.stateDir, 'tape.journal'),
      faultsFile: path.join(ctx.stateDir, 'faults.json'),
      capacityBytes: sim.capacityBytes,
      earlyWarningBytes: Math.min(sim.earlyWarningBytes, sim.capacityBytes),
      minBlock: 1,
      maxBlock: sim.maxBlockBytes,
      density: sim.density,
      writeProtected: sim.writeProtected,
      loaded: sim.loaded,
      timing: sim.timing,
      arch: hostArch(),
    },
    ctx.signal,
  );
  return { kernel };
}
