/**
 * The `tape` kind: SCSI tape drives through the st driver's mtio interface
 * (`/dev/nstN`), and with `sim: true` the st model in ./sim behind the same
 * kernel seam. See ./README.md for the model's semantics beside st's.
 */
import { defineKind } from '../kind.js';
import { motionCommands } from './commands.js';
import { dataCommands } from './data-commands.js';
import { TapeDevice } from './device.js';
import { tapeEntities } from './homeassistant.js';
import { tapeProbe } from './probe.js';
import { tapeOptions, tapeWarnings, type TapeOptions } from './options.js';

export const tapeKind = defineKind<TapeOptions, TapeDevice>({
  kind: 'tape',
  title: 'SCSI tape drive (st driver, mtio ioctls)',
  options: tapeOptions,
  commands: { ...motionCommands, ...dataCommands },
  events: {
    progress: 'writeFile/readFile: {bytes, total, rateBytesPerS} at most once a second (total is null when reading)',
  },
  warnings: (options) => tapeWarnings(options),
  sim: async (ctx) => (await import('./sim/parts.js')).tapeSim(ctx),
  create: (ctx) => new TapeDevice(ctx),
  sandbox: (o) => ({ deviceAllow: [`${o.path} rw`], groups: ['tape'] }),
  probe: tapeProbe,
  homeassistant: tapeEntities,
});
