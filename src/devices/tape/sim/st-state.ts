/**
 * The st driver's per-drive bookkeeping, as drivers/scsi/st.c keeps it in
 * `struct scsi_tape` and `struct st_partstat`: the file and block numbers it
 * reports, its end-of-file state machine, whether it last read or wrote, and
 * what it learned from the drive when the tape was opened or loaded.
 */
import type { Drive } from './drive.js';

/** `STps->eof`: where reading or writing stands relative to filemarks, early warning and end of data. */
export const EOF = {
  NOEOF: 0,
  /** A read crossed a filemark but has not yet returned the 0 that reports it. */
  FM_HIT: 1,
  /** Just after a filemark. */
  FM: 2,
  /** Writing reached the early warning; the write succeeded. */
  EOM_OK: 3,
  EOM_ERROR: 4,
  /** Reading hit end of data: the next reads return 0, 0, then EIO. */
  EOD_1: 5,
  EOD_2: 6,
  EOD: 7,
} as const;
export type EofState = (typeof EOF)[keyof typeof EOF];

export type Rw = 'idle' | 'reading' | 'writing';
export type Ready = 'ready' | 'not_ready' | 'no_tape';
export type DoorLock = 'unlocked' | 'explicit' | 'fails';

export interface StState {
  ready: Ready;
  drvFile: number;
  drvBlock: number;
  eof: EofState;
  rw: Rw;
  atSm: boolean;
  blockSize: number;
  density: number;
  drvBuffer: number;
  /** The cartridge's tab as MODE SENSE reported it at open/load (GMT_WR_PROT). */
  drvWriteProt: boolean;
  doorLocked: DoorLock;
  recoverReg: number;
  cleaningReq: boolean;
  minBlock: number;
  maxBlock: number;
  /** An open file: the one st allows at a time. */
  inUse: boolean;
  /** Per open: opened O_RDONLY, or the tape is write-protected. */
  writeProt: boolean;
  /** /dev/stN (rewinding) rather than /dev/nstN. */
  autorewDev: boolean;
  rewAtClose: boolean;
  /** The open was O_NONBLOCK (check_tape then never fails for a missing or protected tape). */
  nonblock: boolean;
  accMode: 'r' | 'w' | 'rw';
}

export function initialStState(): StState {
  return {
    ready: 'ready',
    drvFile: 0,
    drvBlock: 0,
    eof: EOF.NOEOF,
    rw: 'idle',
    atSm: false,
    blockSize: 0,
    density: 0,
    drvBuffer: 1,
    drvWriteProt: false,
    doorLocked: 'unlocked',
    recoverReg: 0,
    cleaningReq: false,
    minBlock: 1,
    maxBlock: 0xffffff,
    inUse: false,
    writeProt: false,
    autorewDev: false,
    rewAtClose: false,
    nonblock: true,
    accMode: 'rw',
  };
}

/** A negative return of the driver: the errno name the syscall fails with. */
export class StErrno extends Error {
  constructor(readonly errno: string) {
    super(errno);
    this.name = 'StErrno';
  }
}

export function fail(errno: string): never {
  throw new StErrno(errno);
}

export interface St {
  readonly s: StState;
  readonly drive: Drive;
}

/** The errno for "no tape to work on": ENOMEDIUM when the drive is empty, EIO when it is not ready. */
export function notReadyErrno(s: StState): string {
  return s.ready === 'no_tape' ? 'ENOMEDIUM' : 'EIO';
}

/**
 * flush_buffer(): with direct I/O nothing is buffered, so what remains is the
 * filemark a fixed-block read crossed before returning its data. An operation
 * that moves on (`seekNext`) counts that file as passed; any other steps back
 * over the filemark so the position is the one the user saw.
 */
export function flushBuffer(st: St, seekNext: boolean): void {
  const { s } = st;
  if (s.ready !== 'ready' || s.rw === 'writing' || s.blockSize === 0) return;
  if (s.eof !== EOF.FM_HIT) return;
  if (!seekNext) {
    if (st.drive.spaceFilemarks(-1).ok) {
      s.eof = EOF.NOEOF;
    } else {
      if (s.drvFile >= 0) s.drvFile++;
      s.drvBlock = 0;
    }
    return;
  }
  if (s.drvFile >= 0) s.drvFile++;
  s.drvBlock = 0;
  s.eof = EOF.NOEOF;
}

/**
 * check_tape(): at open and after a load, asks the drive whether it is ready
 * (a new cartridge starts a new session at file 0, block 0), its block limits
 * and, by MODE SENSE, density, block size and write protection.
 */
export function checkTape(st: St): 'ready' | 'not_ready' {
  const { s, drive } = st;
  s.ready = 'ready';
  const savedCleaning = s.cleaningReq;
  s.cleaningReq = false;
  let tur = drive.testUnitReady();
  let newSession = false;
  while (!tur.ok && tur.sense.key === 'UNIT_ATTENTION') {
    newSession = true;
    tur = drive.testUnitReady();
  }
  if (newSession) {
    s.drvFile = 0;
    s.drvBlock = 0;
    s.eof = EOF.NOEOF;
    s.rw = 'idle';
    s.atSm = false;
  } else {
    s.cleaningReq ||= savedCleaning;
    if (!tur.ok) {
      s.ready = tur.sense.asc === 0x3a ? 'no_tape' : 'not_ready';
      s.density = 0;
      s.writeProt = false;
      s.blockSize = 0;
      s.drvFile = -1;
      s.drvBlock = -1;
      s.doorLocked = 'unlocked';
      return 'not_ready';
    }
  }
  s.minBlock = drive.params.minBlock;
  s.maxBlock = drive.params.maxBlock;
  const mode = drive.modeSense();
  s.density = mode.density;
  s.blockSize = mode.blockSize;
  s.drvWriteProt = mode.writeProtected;
  if (s.drvWriteProt) {
    s.writeProt = true;
    // A blocking open for writing is refused outright; O_NONBLOCK opens and fails the writes later.
    if (!s.nonblock && s.accMode !== 'r') fail('EROFS');
  }
  return 'ready';
}
