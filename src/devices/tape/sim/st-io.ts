/**
 * read(2) and write(2) in the st model: st_read()/read_tape() and st_write().
 * Variable-block mode moves one record per call; fixed-block mode moves whole
 * blocks. The end-of-file state machine gives the classic tape answers: a
 * read at a filemark returns 0 once, end of data returns 0 twice and then
 * EIO, and writing into the early-warning zone alternates success and ENOSPC.
 *
 * The model runs st as it behaves with direct I/O (its default): no driver
 * buffer, so fixed-block reads must ask for whole blocks (EINVAL otherwise,
 * as st with read-ahead off).
 */
import { MT } from '../mtio.js';
import { intIoctl } from './st-ops.js';
import { EOF, fail, flushBuffer, notReadyErrno, type St } from './st-state.js';

/** rw_checks(): what both directions refuse before touching the tape. */
function rwChecks(st: St, count: number): void {
  const { s } = st;
  if (s.ready !== 'ready') fail(notReadyErrno(s));
  if (count === 0) return;
  if (s.blockSize === 0 && s.maxBlock > 0 && (count < s.minBlock || count > s.maxBlock)) fail('EINVAL');
}

export function stRead(st: St, count: number): Buffer {
  const { s } = st;
  rwChecks(st, count);
  if (count === 0) return Buffer.alloc(0);
  if (s.blockSize !== 0 && count % s.blockSize !== 0) fail('EINVAL');
  if (s.rw === 'writing') {
    flushBuffer(st, false);
    s.rw = 'reading';
  }
  if (s.eof >= EOF.EOD_1) {
    if (s.eof < EOF.EOD) {
      s.eof = (s.eof + 1) as typeof s.eof;
      return Buffer.alloc(0);
    }
    fail('EIO'); // end of data (BLANK CHECK) or end of medium
  }
  s.rw = 'reading';
  const data = readTape(st, count);
  if (data.length === 0) {
    if (s.eof === EOF.FM_HIT) {
      s.eof = EOF.FM;
      s.drvBlock = 0;
      if (s.drvFile >= 0) s.drvFile++;
    } else if (s.eof === EOF.EOD_1) {
      s.eof = EOF.EOD_2;
      s.drvBlock = 0;
      if (s.drvFile >= 0) s.drvFile++;
    } else if (s.eof === EOF.EOD_2) {
      s.eof = EOF.EOD;
    }
  } else if (s.eof === EOF.FM) {
    s.eof = EOF.NOEOF;
  }
  return data;
}

/** read_tape(): one READ command and what its sense data means. */
function readTape(st: St, count: number): Buffer {
  const { s, drive } = st;
  if (s.eof === EOF.FM_HIT) return Buffer.alloc(0);
  const fixed = s.blockSize !== 0;
  const blocks = fixed ? Math.floor(count / s.blockSize) : 0;
  const bytes = fixed ? blocks * s.blockSize : count;
  const { data: got, outcome } = fixed ? drive.readFixed(blocks, s.blockSize) : drive.readVariable(count);
  s.atSm = false;
  let data = got;
  if (!outcome.ok) {
    const sense = outcome.sense;
    // BLANK CHECK carries no useful ILI; st masks it off.
    const ili = sense.ili && sense.key !== 'BLANK_CHECK';
    if (sense.fmk || sense.eom || ili) {
      const transfer = sense.residual;
      if (ili) {
        if (!fixed && transfer < 0) {
          // The record is longer than the read: its data is lost, as st reports with ENOMEM.
          if (s.drvBlock >= 0) s.drvBlock += 1;
          fail('ENOMEM');
        } else if (fixed) {
          if (transfer === blocks) {
            if (s.drvBlock >= 0) s.drvBlock += 1;
            intIoctl(st, MT.BSR, 1);
            fail('EIO'); // a block of another size: nothing to deliver
          }
          // Deliver the good blocks, then step back before the odd one.
          if (s.drvBlock >= 0) s.drvBlock += 1;
          intIoctl(st, MT.BSR, 1);
        }
      } else if (sense.fmk) {
        // (st would call a second filemark in a row end of data, but a pending FM_HIT never reads on.)
        s.eof = EOF.FM_HIT;
        if (!fixed) data = Buffer.alloc(0);
      } else if (sense.eom) {
        s.eof = s.eof === EOF.FM ? EOF.EOD_1 : EOF.EOM_OK;
      }
    } else {
      s.drvBlock = -1;
      if (s.eof === EOF.FM && sense.key === 'BLANK_CHECK') {
        // The first BLANK CHECK after a filemark reads as a second 0: end of data.
        s.eof = EOF.EOD_2;
      } else {
        fail('EIO');
      }
    }
  } else {
    data = got.subarray(0, bytes);
  }
  if (s.drvBlock >= 0) s.drvBlock += fixed ? Math.floor(data.length / s.blockSize) : 1;
  return data;
}

export function stWrite(st: St, data: Buffer): number {
  const { s, drive } = st;
  const total = data.length;
  rwChecks(st, total);
  if (total === 0) return 0;
  const fixed = s.blockSize !== 0;
  if (fixed && total % s.blockSize !== 0) fail('EINVAL'); // must be whole blocks
  if (s.writeProt) fail('EACCES');
  if (s.rw === 'reading') {
    flushBuffer(st, false);
    s.rw = 'writing';
  }
  if (s.eof === EOF.EOM_OK) {
    s.eof = EOF.EOD_1; // the next write may go on into the early-warning zone
    fail('ENOSPC');
  } else if (s.eof === EOF.EOM_ERROR) {
    fail('EIO');
  }
  s.rw = 'writing';
  const outcome = drive.write(data, s.blockSize);
  let left = 0;
  let done = total;
  let blocks = fixed ? total / s.blockSize : 0;
  let error: string | null = null;
  if (!outcome.ok) {
    const sense = outcome.sense;
    if (sense.eom) {
      const undone = sense.residual * (fixed ? s.blockSize : 1);
      left += undone;
      done -= undone;
      if (fixed) blocks = done / s.blockSize;
      s.eof = EOF.EOM_OK;
      if (!fixed || undone > 0 || left === 0) error = 'ENOSPC';
    } else {
      left = total;
      done = 0;
      s.drvBlock = -1;
      error = 'EIO';
    }
  }
  if (s.drvBlock >= 0) s.drvBlock += fixed ? blocks : done > 0 ? 1 : 0;
  if (error) {
    // Data that did reach the tape is reported; only a write that moved nothing fails.
    if (left < total) return total - left;
    fail(error);
  }
  if (s.eof === EOF.EOD_1) s.eof = EOF.EOM_OK;
  else if (s.eof !== EOF.EOM_OK) s.eof = EOF.NOEOF;
  return total - left;
}
