/**
 * MTIOCTOP in the st model: the operation-level rules of st_ioctl() and
 * st_int_ioctl(). Each operation predicts the file/block numbers it will
 * reach, sends the drive its command, and on CHECK CONDITION corrects the
 * numbers from the sense data the way st does, then fails with EIO.
 */
import { MT, MT_ST_BLKSIZE_MASK } from '../mtio.js';
import type { Outcome } from './drive.js';
import { EOF, checkTape, fail, flushBuffer, notReadyErrno, type St } from './st-state.js';

const MT_ST_OPTIONS = 0xf0000000;

/** Operations after which st considers the position moved on (flush with seek_next). */
const SEEKS_NEXT: ReadonlySet<number> = new Set([
  MT.REW,
  MT.OFFL,
  MT.RETEN,
  MT.EOM,
  MT.LOCK,
  MT.LOAD,
  MT.FSF,
  MT.FSFM,
  MT.BSF,
  MT.BSFM,
  MT.COMPRESSION,
  MT.SEEK,
]);
/** Moving the tape away right after writing first ends the file with a filemark. */
const WEOF_BEFORE: ReadonlySet<number> = new Set([MT.REW, MT.OFFL, MT.SEEK, MT.BSF, MT.BSFM]);
/** Operations that leave the read/write direction as it is. */
const KEEP_RW: ReadonlySet<number> = new Set([MT.NOP, MT.SETBLK, MT.SETDENSITY, MT.WSM, MT.SETDRVBUFFER, MT.SETPART]);

/** The MTIOCTOP entry point (st_ioctl's mtop branch). */
export function mtioctop(st: St, op: number, countIn: number): void {
  const { s } = st;
  let count = countIn;
  // CAP_SYS_ADMIN: MTSETDRVBUFFER is for root only.
  if (op === MT.SETDRVBUFFER && process.geteuid?.() !== 0) fail('EPERM');
  if (s.eof === EOF.FM_HIT) {
    // A fixed-block read stopped at a filemark it has not reported yet: that file counts as passed.
    if (op === MT.FSF || op === MT.FSFM || op === MT.EOM) count -= 1;
    else if (op === MT.BSF || op === MT.BSFM) count += 1;
  }
  flushBuffer(st, SEEKS_NEXT.has(op));
  if (s.rw === 'writing' && WEOF_BEFORE.has(op)) {
    intIoctl(st, MT.WEOF, 1);
    if (op === MT.BSF || op === MT.BSFM) count++;
    s.rw = 'idle';
  }
  if (!KEEP_RW.has(op)) s.rw = 'idle';
  if (op === MT.OFFL && s.doorLocked !== 'unlocked') doorLock(st, false, true);

  switch (op) {
    case MT.SETDRVBUFFER:
      // Driver options (MT_ST_BOOLEANS …) are accepted but not modelled.
      if ((count & MT_ST_OPTIONS) !== 0) return;
      break;
    case MT.SETPART:
    case MT.MKPART:
      // Partition support is off (MT_ST_CAN_PARTITIONS unset), as st's default is.
      return fail('EINVAL');
    case MT.SEEK:
      setLocation(st, count);
      s.rw = 'idle';
      return;
    case MT.UNLOAD:
    case MT.OFFL:
      loadUnload(st, 0);
      return;
    case MT.LOAD:
      loadUnload(st, Math.max(1, count));
      return;
    case MT.LOCK:
    case MT.UNLOCK:
      doorLock(st, op === MT.LOCK);
      return;
    case MT.COMPRESSION:
      if (s.ready !== 'ready') fail('EIO');
      st.drive.s.compression = (count & 1) === 1;
      return;
    default:
      break;
  }
  intIoctl(st, op, count);
}

/** st_int_ioctl(): one tape operation and its bookkeeping. */
export function intIoctl(st: St, op: number, arg: number): void {
  const { s, drive } = st;
  if (s.ready !== 'ready') fail(notReadyErrno(s));
  let fileno = s.drvFile;
  let blkno = s.drvBlock;
  let atSm = s.atSm;
  let chgEof = true;
  let outcome: Outcome;
  switch (op) {
    case MT.FSFM:
    case MT.FSF:
      chgEof = op === MT.FSF;
      outcome = drive.spaceFilemarks(arg);
      if (fileno >= 0) fileno += arg;
      blkno = 0;
      atSm &&= arg === 0;
      break;
    case MT.BSFM:
    case MT.BSF:
      chgEof = op === MT.BSF;
      outcome = drive.spaceFilemarks(-arg);
      if (fileno >= 0) fileno -= arg;
      blkno = -1; // st cannot know how long the file before is
      atSm &&= arg === 0;
      break;
    case MT.FSR:
      outcome = drive.spaceBlocks(arg);
      if (blkno >= 0) blkno += arg;
      atSm &&= arg === 0;
      break;
    case MT.BSR:
      outcome = drive.spaceBlocks(-arg);
      if (blkno >= 0) blkno -= arg;
      atSm &&= arg === 0;
      break;
    case MT.FSS:
    case MT.BSS:
      outcome = drive.spaceSetmarks();
      if (arg !== 0) {
        blkno = fileno = -1;
        atSm = true;
      }
      break;
    case MT.WEOF:
    case MT.WEOFI:
    case MT.WSM:
      if (s.writeProt) fail('EACCES');
      outcome = drive.writeFilemarks(arg, op === MT.WSM);
      if (fileno >= 0) fileno += arg;
      blkno = 0;
      atSm = op === MT.WSM;
      break;
    case MT.REW:
      outcome = drive.rewind();
      fileno = blkno = 0;
      atSm = false;
      break;
    case MT.NOP:
      return;
    case MT.RETEN:
      outcome = drive.startStop(true, true);
      fileno = blkno = 0;
      atSm = false;
      break;
    case MT.EOM: {
      // Without fast MTEOM, st spaces over filemarks to the end so the file number stays right.
      try {
        intIoctl(st, MT.FSF, 0x7fffff);
      } catch {
        // The spacing ends in BLANK CHECK at end of data: that is the expected way.
      }
      fileno = s.drvFile;
      if (s.eof >= EOF.EOD_1) return;
      outcome = drive.spaceToEndOfData();
      blkno = -1;
      atSm = false;
      break;
    }
    case MT.ERASE:
      if (s.writeProt) fail('EACCES');
      outcome = drive.erase();
      break;
    case MT.SETBLK:
    case MT.SETDENSITY:
    case MT.SETDRVBUFFER: {
      chgEof = false;
      const size = arg & MT_ST_BLKSIZE_MASK;
      if (op === MT.SETBLK && size !== 0 && s.maxBlock > 0 && (size < s.minBlock || size > s.maxBlock)) fail('EINVAL');
      outcome = drive.modeSelect(op === MT.SETBLK ? { blockSize: size } : op === MT.SETDENSITY ? { density: arg & 0xff } : {});
      break;
    }
    default:
      fail('ENOSYS');
  }

  if (outcome.ok) {
    s.drvBlock = blkno;
    s.drvFile = fileno;
    s.atSm = atSm;
    if (op === MT.BSFM) intIoctl(st, MT.FSF, 1);
    else if (op === MT.FSFM) intIoctl(st, MT.BSF, 1);
    if (op === MT.SETBLK) s.blockSize = arg & MT_ST_BLKSIZE_MASK;
    else if (op === MT.SETDRVBUFFER) s.drvBuffer = arg & 7;
    else if (op === MT.SETDENSITY) s.density = arg & 0xff;
    if (op === MT.EOM) s.eof = EOF.EOD;
    else if (op === MT.FSF) s.eof = EOF.FM;
    else if (chgEof) s.eof = EOF.NOEOF;
    if (op === MT.WEOF || op === MT.WEOFI) s.rw = 'idle';
    return;
  }

  const sense = outcome.sense;
  if (sense.eom) {
    if (op !== MT.BSF && op !== MT.BSFM && op !== MT.BSR && op !== MT.BSS) s.eof = EOF.EOM_OK;
    s.drvBlock = 0;
  }
  let undone = sense.residual;
  if ((op === MT.WEOF || op === MT.WEOFI) && sense.eom) {
    if (sense.key === 'NO_SENSE' || sense.key === 'RECOVERED_ERROR') {
      // Filemarks written at the early warning: a success.
      s.eof = EOF.NOEOF;
      s.drvFile = fileno;
      return;
    }
    if (fileno >= 0) fileno -= undone;
    if (undone < arg) s.eof = EOF.NOEOF;
    s.drvFile = fileno;
  } else if (op === MT.FSF || op === MT.FSFM) {
    s.drvFile = fileno >= 0 ? fileno - undone : fileno;
    s.drvBlock = -1;
    s.eof = EOF.NOEOF;
  } else if (op === MT.BSF || op === MT.BSFM) {
    if (arg > 0 && undone < 0) undone = -undone;
    if (s.drvFile >= 0) s.drvFile = fileno + undone;
    s.drvBlock = 0;
    s.eof = EOF.NOEOF;
  } else if (op === MT.FSR) {
    if (sense.fmk) {
      if (s.drvFile >= 0) s.drvFile++;
      s.drvBlock = 0;
      s.eof = EOF.FM;
    } else {
      s.drvBlock = blkno >= undone ? blkno - undone : -1;
      s.eof = EOF.NOEOF;
    }
  } else if (op === MT.BSR) {
    if (sense.fmk) {
      s.drvFile--;
      s.drvBlock = -1;
    } else {
      if (arg > 0 && undone < 0) undone = -undone;
      if (s.drvBlock >= 0) s.drvBlock = blkno + undone;
    }
    s.eof = EOF.NOEOF;
  } else if (op === MT.EOM) {
    s.drvFile = -1;
    s.drvBlock = -1;
    s.eof = EOF.EOD;
  } else if (op !== MT.SETBLK && op !== MT.SETDENSITY && op !== MT.SETDRVBUFFER && chgEof) {
    s.eof = EOF.NOEOF;
  }
  if (sense.key === 'BLANK_CHECK') s.eof = EOF.EOD;
  fail('EIO');
}

/** MTSEEK: LOCATE; afterwards st knows no file or block number (unless the target is block 0). */
export function setLocation(st: St, block: number): void {
  const { s } = st;
  if (s.ready !== 'ready') fail('EIO');
  const outcome = st.drive.locate(block);
  s.drvBlock = s.drvFile = -1;
  s.eof = EOF.NOEOF;
  if (!outcome.ok) fail('EIO');
  s.atSm = false;
  if (block === 0) s.drvBlock = s.drvFile = 0;
}

/** MTIOCPOS: READ POSITION. At the beginning of the tape st also knows it is at file 0, block 0. */
export function getLocation(st: St): number {
  const { s } = st;
  if (s.ready !== 'ready') fail('EIO');
  const pos = st.drive.readPosition();
  if ('ok' in pos) fail('EIO');
  if (pos.bop) s.drvBlock = s.drvFile = 0;
  return pos.block;
}

/** do_load_unload(): code 0 unloads; otherwise loads and checks the tape as open does. */
export function loadUnload(st: St, code: number): void {
  const { s } = st;
  if (s.ready !== 'ready' && code === 0) fail(notReadyErrno(s));
  const outcome = st.drive.startStop(code !== 0);
  if (!outcome.ok) {
    s.drvFile = s.drvBlock = -1;
    fail('EIO');
  }
  if (code === 0) {
    s.rewAtClose = false;
    s.ready = 'no_tape';
    return;
  }
  s.rewAtClose = s.autorewDev;
  checkTape(st);
}

export function doorLock(st: St, lock: boolean, ignoreResult = false): void {
  const outcome = st.drive.preventRemoval(lock);
  st.s.doorLocked = outcome.ok ? (lock ? 'explicit' : 'unlocked') : 'fails';
  if (!outcome.ok && !ignoreResult) fail('EIO');
}
