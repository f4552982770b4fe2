/**
 * The `tape` kind: SCSI tape drives through the st driver's mtio interface
 * (`/dev/nstN`), and with `sim: true` the st model in ./sim behind the same
 * kernel seam. See ./README.md for the model's semantics beside st's.
 */
import path from 'node:path';
import { hostArch } from '../../kernel/arch.js';
import { defineKind } from '../kind.js';
import { motionCommands } from './commands.js';
import { dataCommands } from './data-commands.js';
import { TapeDevice } from './device.js';
import { tapeEntities } from './homeassistant.js';
import { SIM_DEFAULTS, tapeOptions, tapeWarnings, type TapeOptions } from './options.js';
import { SimTapeKernel } from './sim/kernel.js';

export const tapeKind = defineKind<TapeOptions, TapeDevice>({
  kind: 'tape',
  title: 'SCSI tape drive (st driver, mtio ioctls)',
  options: tapeOptions,
  commands: { ...motionCommands, ...dataCommands },
  events: {
    progress: 'writeFile/readFile: {bytes, total, rateBytesPerS} at most once a second (total is null when reading)',
  },
  warnings: (options) => tapeWarnings(options),
  simKernel: (ctx) => {
    const sim = ctx.options.sim ?? SIM_DEFAULTS;
    return new SimTapeKernel(
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
  },
  create: (ctx) => new TapeDevice(ctx),
  homeassistant: tapeEntities,
});
