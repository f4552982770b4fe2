/**
 * How long the modelled drive takes. Real drives take minutes to rewind or
 * space to the end; the defaults are realistic in shape but short, so the
 * demo shows busy states and progress without making anyone wait. Tests set
 * what they need (a 30 s rewind, or zeros).
 */
import { MT } from '../mtio.js';

export interface SimTiming {
  /** Rewinding from anywhere but the beginning (at BOT a rewind is immediate). */
  readonly rewindMs: number;
  /** Spacing over filemarks (fsf, bsf, fsfm, bsfm) and seeking. */
  readonly spaceMs: number;
  /** Spacing to end of data. */
  readonly eomMs: number;
  readonly eraseMs: number;
  readonly retensionMs: number;
  readonly loadMs: number;
  /** Unloading, including the rewind before the eject. */
  readonly unloadMs: number;
  /** Writing filemarks (a synchronising flush of the drive's buffer). */
  readonly weofMs: number;
  /** Data rate of reads and writes. */
  readonly bytesPerS: number;
}

export const DEMO_TIMING: SimTiming = {
  rewindMs: 3000,
  spaceMs: 1500,
  eomMs: 2500,
  eraseMs: 6000,
  retensionMs: 5000,
  loadMs: 4000,
  unloadMs: 3000,
  weofMs: 200,
  bytesPerS: 4 * 1024 * 1024,
};

export const NO_TIMING: SimTiming = {
  rewindMs: 0,
  spaceMs: 0,
  eomMs: 0,
  eraseMs: 0,
  retensionMs: 0,
  loadMs: 0,
  unloadMs: 0,
  weofMs: 0,
  bytesPerS: Number.POSITIVE_INFINITY,
};

/** Simulated time of one MTIOCTOP operation, given where the tape is. */
export function opDuration(t: SimTiming, op: number, count: number, atBot: boolean, loaded: boolean): number {
  switch (op) {
    case MT.REW:
      return atBot ? 0 : t.rewindMs;
    case MT.FSF:
    case MT.BSF:
    case MT.FSFM:
    case MT.BSFM:
    case MT.SEEK:
      return count === 0 ? 0 : t.spaceMs;
    case MT.EOM:
      return t.eomMs;
    case MT.ERASE:
      return count !== 0 ? t.eraseMs : t.weofMs;
    case MT.RETEN:
      return t.retensionMs;
    case MT.LOAD:
      return loaded ? 0 : t.loadMs;
    case MT.OFFL:
    case MT.UNLOAD:
      return loaded ? t.unloadMs : 0;
    case MT.WEOF:
    case MT.WEOFI:
      return t.weofMs;
    default:
      return 0;
  }
}

export function transferDuration(t: SimTiming, bytes: number): number {
  return Number.isFinite(t.bytesPerS) && t.bytesPerS > 0 ? (bytes / t.bytesPerS) * 1000 : 0;
}
