/**
 * The st driver model for one drive: open/close (st_open, st_flush,
 * st_release), MTIOCTOP, MTIOCGET, MTIOCPOS, read and write, over a Drive
 * and its cartridge image. Every call ends by saving the drive's and the
 * driver's state into the image, so a restart — or a kill — finds the tape
 * where the kernel would have it.
 */
import type { MtGet } from '../../../kernel/structs.js';
import { GMT, MT, MT_ISSCSI2, MT_ST_BLKSIZE_MASK, MT_ST_DENSITY_SHIFT } from '../mtio.js';
import { Drive, type DriveParams, type DriveState } from './drive.js';
import { isSystemError } from '../../errors.js';
import { Medium } from './medium.js';
import { getLocation, intIoctl, mtioctop } from './st-ops.js';
import { stRead, stWrite } from './st-io.js';
import { EOF, checkTape, fail, flushBuffer, initialStState, type St, type StState } from './st-state.js';

export interface StModelOptions extends DriveParams {
  /** The cartridge's write-protect tab (applies from the next open or load). */
  readonly writeProtected: boolean;
  /** Whether a cartridge is in the drive when a new image is created. */
  readonly loaded: boolean;
}

export interface OpenFlags {
  readonly accMode: 'r' | 'w' | 'rw';
  readonly nonblock: boolean;
  /** The auto-rewind device node (/dev/stN): rewind at close. */
  readonly rewinding: boolean;
}

interface Saved {
  readonly v: 1;
  readonly drive: DriveState;
  readonly st: StState;
}

export class StModel implements St {
  readonly medium: Medium;
  readonly drive: Drive;
  readonly s: StState;
  /** What the last open found after a kill: the kernel's close of the dead process's file. */
  readonly recovered: string | null;

  constructor(imageFile: string, opts: StModelOptions) {
    this.medium = Medium.open(imageFile);
    const saved = parseSaved(this.medium.state);
    const driveState: DriveState = saved?.drive ?? {
      loaded: opts.loaded,
      pos: 0,
      blockSize: 0,
      density: opts.density,
      locked: false,
      compression: true,
      newMedium: opts.loaded,
      writeProtectTab: opts.writeProtected,
    };
    // The configured tab wins: it is the cartridge the user says is in the drive.
    driveState.writeProtectTab = opts.writeProtected;
    driveState.pos = Math.min(driveState.pos, this.medium.length);
    this.drive = new Drive(this.medium, opts, driveState);
    this.s = saved?.st ?? { ...initialStState(), ready: opts.loaded ? 'ready' : 'no_tape' };
    if (saved) this.#replayUnsaved();
    this.recovered = this.s.inUse ? this.#closeAfterKill() : null;
    this.save();
  }

  /**
   * A kill between a write reaching the tape and its bookkeeping being saved:
   * redo what st counted for it (a block per record, a file per filemark).
   */
  #replayUnsaved(): void {
    for (const w of this.medium.unsaved) {
      this.drive.s.pos = w.end;
      if (w.records > 0) {
        if (this.s.drvBlock >= 0) this.s.drvBlock += w.records;
        this.s.rw = 'writing';
        this.s.eof = EOF.NOEOF;
      } else {
        if (this.s.drvFile >= 0) this.s.drvFile += w.filemarks;
        this.s.drvBlock = 0;
        this.s.rw = 'idle';
      }
    }
  }

  /** The kernel closes the files of a killed process: st_flush writes the filemark a write left owed. */
  #closeAfterKill(): string {
    const wasWriting = this.s.rw === 'writing';
    try {
      this.close();
    } catch {
      this.s.inUse = false;
    }
    return wasWriting ? 'closed after a kill: wrote the filemark the last write left owed' : 'closed after a kill';
  }

  /**
   * Best effort: a state the image cannot take now (a full, read-only or failing
   * stateDir) is saved with the next call that can. Only what puts data on the
   * tape (records, filemarks, an erase) needs the disk and fails with its errno;
   * a kill meanwhile costs what a kill between a write and its bookkeeping costs
   * (#replayUnsaved), and positioning done since.
   */
  save(): void {
    const saved: Saved = { v: 1, drive: this.drive.s, st: this.s };
    try {
      this.medium.saveState(JSON.stringify(saved));
    } catch (e) {
      if (!isSystemError(e)) throw e;
    }
  }

  /** st_open(): one open at a time; a blocking open needs a ready, writable-if-asked tape. */
  open(flags: OpenFlags): void {
    const { s } = this;
    if (s.inUse) fail('EBUSY');
    s.inUse = true;
    s.autorewDev = flags.rewinding;
    s.rewAtClose = flags.rewinding;
    s.accMode = flags.accMode;
    s.nonblock = flags.nonblock;
    s.writeProt = flags.accMode === 'r';
    s.rw = 'idle';
    try {
      const r = checkTape(this);
      if (!flags.nonblock && r !== 'ready') fail(s.ready === 'no_tape' ? 'ENOMEDIUM' : 'EIO');
    } catch (e) {
      s.inUse = false;
      throw e;
    } finally {
      this.save();
    }
  }

  /** st_flush() + st_release(): end a written file with a filemark; the rewinding device rewinds. */
  close(): void {
    const { s } = this;
    try {
      if (s.ready === 'ready' && s.rw === 'writing') {
        const outcome = this.drive.writeFilemarks(1);
        const atEarlyWarning = !outcome.ok && outcome.sense.eom && outcome.sense.key === 'NO_SENSE';
        if (!outcome.ok && !atEarlyWarning) fail('EIO');
        if (s.drvFile >= 0) s.drvFile++;
        s.drvBlock = 0;
        s.eof = EOF.FM;
      } else if (!s.rewAtClose) {
        flushBuffer(this, false);
      }
      if (s.rewAtClose && s.ready === 'ready') intIoctl(this, MT.REW, 1);
    } finally {
      s.inUse = false;
      s.rw = 'idle';
      this.save();
    }
  }

  op(op: number, count: number): void {
    try {
      mtioctop(this, op, count);
    } finally {
      this.save();
    }
  }

  /** MTIOCGET, as st fills `struct mtget`. */
  status(): MtGet {
    const { s } = this;
    try {
      flushBuffer(this, false);
    } finally {
      this.save();
    }
    let gstat = 0;
    if (s.drvWriteProt) gstat |= GMT.WR_PROT;
    if (s.drvBlock === 0) gstat |= s.drvFile === 0 ? GMT.BOT : GMT.EOF;
    if (s.eof === EOF.EOM_OK || s.eof === EOF.EOM_ERROR) gstat |= GMT.EOT;
    else if (s.eof >= EOF.EOM_OK) gstat |= GMT.EOD;
    if (s.density === 1) gstat |= GMT.D_800;
    else if (s.density === 2) gstat |= GMT.D_1600;
    else if (s.density === 3) gstat |= GMT.D_6250;
    if (s.ready === 'ready') gstat |= GMT.ONLINE;
    if (s.ready === 'no_tape') gstat |= GMT.DR_OPEN;
    if (s.atSm) gstat |= GMT.SM;
    // st's default mode has asynchronous writes on, which it reports as immediate report mode.
    gstat |= GMT.IM_REP_EN;
    if (s.cleaningReq) gstat |= GMT.CLN;
    const erreg = s.recoverReg;
    s.recoverReg = 0;
    return {
      mt_type: MT_ISSCSI2,
      mt_resid: 0, // the partition: always 0 without partition support
      mt_dsreg: ((s.blockSize & MT_ST_BLKSIZE_MASK) | ((s.density & 0xff) << MT_ST_DENSITY_SHIFT)) >>> 0,
      mt_gstat: gstat >>> 0,
      mt_erreg: erreg,
      mt_fileno: s.drvFile,
      mt_blkno: s.drvBlock,
    };
  }

  /** MTIOCPOS. */
  position(): number {
    try {
      flushBuffer(this, false);
      return getLocation(this);
    } finally {
      this.save();
    }
  }

  read(count: number): Buffer {
    try {
      return stRead(this, count);
    } finally {
      this.save();
    }
  }

  write(data: Buffer): number {
    try {
      return stWrite(this, data);
    } finally {
      this.save();
    }
  }

  /** A recovered error the drive reports on the next command (counted in mt_erreg). */
  noteRecoveredError(): void {
    this.s.recoverReg++;
  }

  requestCleaning(): void {
    this.s.cleaningReq = true;
  }

  /** Flips the cartridge's tab; st learns it at the next open or load, as with a real cartridge. */
  setWriteProtectTab(on: boolean): void {
    this.drive.s.writeProtectTab = on;
    this.save();
  }

  dispose(): void {
    this.medium.close();
  }
}

function parseSaved(text: string | null): Saved | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<Saved>;
    return v.v === 1 && v.drive && v.st ? (v as Saved) : null;
  } catch {
    return null;
  }
}
