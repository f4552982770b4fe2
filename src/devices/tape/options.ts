/** The tape kind's options, and the warnings `check-config` prints for them. */
import path from 'node:path';
import { s, type Infer } from '../../schema/schema.js';
import { DEMO_TIMING } from './sim/timing.js';

const ms = (d: number, what: string) =>
  s
    .int({ min: 0, max: 24 * 3600_000 })
    .default(d)
    .doc(what);

const timing = s.object({
  rewindMs: ms(DEMO_TIMING.rewindMs, 'rewind from anywhere but the beginning'),
  spaceMs: ms(DEMO_TIMING.spaceMs, 'fsf/bsf/seek'),
  eomMs: ms(DEMO_TIMING.eomMs, 'space to end of data'),
  eraseMs: ms(DEMO_TIMING.eraseMs, 'long erase'),
  retensionMs: ms(DEMO_TIMING.retensionMs, 'retension'),
  loadMs: ms(DEMO_TIMING.loadMs, 'load a cartridge'),
  unloadMs: ms(DEMO_TIMING.unloadMs, 'rewind and eject'),
  weofMs: ms(DEMO_TIMING.weofMs, 'write filemarks'),
  bytesPerS: s.int({ min: 1 }).default(DEMO_TIMING.bytesPerS).doc('data rate of reads and writes'),
});

const simOptions = s.object({
  capacityBytes: s
    .int({ min: 1024 })
    .default(256 * 1024 * 1024)
    .doc('cartridge capacity'),
  earlyWarningBytes: s
    .int({ min: 0 })
    .default(4 * 1024 * 1024)
    .doc('early-warning zone before the end (writes there report EOT)'),
  maxBlockBytes: s.int({ min: 1, max: 0xffffff }).default(0x800000).doc('largest record the drive takes (READ BLOCK LIMITS)'),
  density: s.int({ min: 0, max: 255 }).default(0x58).doc('density code the cartridge reports (0x58: LTO-5)'),
  writeProtected: s.boolean().default(false).doc("the cartridge's write-protect tab"),
  loaded: s.boolean().default(true).doc('a cartridge is in the drive when the image is new'),
  timing: timing.default({ ...DEMO_TIMING }).doc('simulated duration of long operations (each key optional)'),
});

export type SimOptions = Infer<typeof simOptions>;
export const SIM_DEFAULTS: SimOptions = (simOptions.parse({}) as { ok: true; value: SimOptions }).value;

export function tapeOptions(sim: boolean) {
  return s.object({
    path: (sim
      ? s.string({ minLength: 1 }).default('/dev/nst0')
      : s.string({ minLength: 1, pattern: /^\//, patternText: 'an absolute path' })
    ).doc('the non-rewinding device, /dev/nstN (or /dev/tape/by-id/…-nst)'),
    filesDir: s
      .string({ minLength: 1 })
      .optional()
      .doc('directory writeFile/readFile may use; nothing outside it (default with sim: <stateDir>/files)'),
    recordBytes: s
      .int({ min: 1, max: 0xffffff })
      .default(64 * 1024)
      .doc('record size writeFile writes in variable-block mode'),
    maxRecordBytes: s
      .int({ min: 1, max: 0xffffff })
      .default(1024 * 1024)
      .doc('largest record read/readFile accept (a larger one fails with ENOMEM)'),
    pollMs: s.int({ min: 0, max: 86_400_000 }).default(30_000).doc('refresh the status this often when idle (0: only after commands)'),
    sim: simOptions.optional().doc('the modelled drive (sim: true only)'),
  });
}

export type TapeOptions = Infer<ReturnType<typeof tapeOptions>>;

/** Whether a path names a rewinding node: /dev/st0, /dev/st0l … or a by-id link without -nst. */
export function isRewindingNode(p: string): boolean {
  const base = path.basename(p);
  if (/^st\d+[lma]?$/.test(base)) return true;
  return p.startsWith('/dev/tape/') && !/-nst$/.test(base);
}

export function tapeWarnings(options: TapeOptions): string[] {
  const out: string[] = [];
  if (isRewindingNode(options.path)) {
    const base = path.basename(options.path);
    const hint = /^st\d/.test(base) ? path.join(path.dirname(options.path), `n${base}`) : `${options.path}-nst`;
    out.push(
      `options.path ${options.path} is a rewinding tape device: the drive rewinds every time it is closed ` +
        `(each reconnect, each restart), so positions are lost and a later write overwrites the tape from the start; use ${hint}`,
    );
  }
  return out;
}
