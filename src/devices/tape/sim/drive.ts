/**
 * The tape drive under the st model: what a SCSI sequential-access device
 * (SSC) does with the cartridge and what it reports, as CHECK CONDITION sense
 * data (key, FILEMARK/EOM/ILI bits, residual). The st model interprets these
 * exactly as drivers/scsi/st.c interprets a real drive's sense, so the file
 * and block numbers, flags and errno values come out of the same rules.
 *
 * Positions are between objects: `pos` is the number of records and
 * filemarks before the head; end of data is `pos === medium.length`.
 */
import type { Medium } from './medium.js';

export type SenseKey =
  | 'NO_SENSE'
  | 'RECOVERED_ERROR'
  | 'NOT_READY'
  | 'MEDIUM_ERROR'
  | 'ILLEGAL_REQUEST'
  | 'UNIT_ATTENTION'
  | 'DATA_PROTECT'
  | 'BLANK_CHECK'
  | 'VOLUME_OVERFLOW';

export interface Sense {
  readonly key: SenseKey;
  readonly fmk: boolean;
  readonly eom: boolean;
  readonly ili: boolean;
  /** The INFORMATION field: what was not done (bytes, blocks or marks); negative for an overlong record. */
  readonly residual: number;
  /** Additional sense code, where st looks at it (0x3a: no medium). */
  readonly asc?: number;
}

export type Outcome = { readonly ok: true } | { readonly ok: false; readonly sense: Sense };

const OK: Outcome = { ok: true };
const check = (key: SenseKey, s: Partial<Omit<Sense, 'key'>> = {}): Outcome => ({
  ok: false,
  sense: { key, fmk: false, eom: false, ili: false, residual: 0, ...s },
});

export interface DriveParams {
  /** Native capacity of the cartridge in bytes (record data; filemarks are free). */
  readonly capacityBytes: number;
  /** The early-warning zone before the end: writes past it succeed but report EOM. */
  readonly earlyWarningBytes: number;
  readonly minBlock: number;
  readonly maxBlock: number;
  /** The density code of the loaded cartridge (MODE SENSE). */
  readonly density: number;
}

/** What the drive keeps between commands (persisted with the image). */
export interface DriveState {
  loaded: boolean;
  pos: number;
  blockSize: number;
  density: number;
  locked: boolean;
  compression: boolean;
  /** A freshly loaded cartridge: the next TEST UNIT READY reports UNIT ATTENTION (new medium). */
  newMedium: boolean;
  /** The cartridge's write-protect tab. */
  writeProtectTab: boolean;
}

export class Drive {
  constructor(
    readonly medium: Medium,
    readonly params: DriveParams,
    readonly s: DriveState,
  ) {}

  #notReady(): Outcome | null {
    return this.s.loaded ? null : check('NOT_READY', { asc: 0x3a });
  }

  #pastEarlyWarning(pos: number): boolean {
    return this.medium.bytesBefore(pos) > this.params.capacityBytes - this.params.earlyWarningBytes;
  }

  testUnitReady(): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (this.s.newMedium) {
      this.s.newMedium = false;
      return check('UNIT_ATTENTION', { asc: 0x28 });
    }
    return OK;
  }

  modeSense(): { density: number; blockSize: number; writeProtected: boolean } {
    return { density: this.s.density, blockSize: this.s.blockSize, writeProtected: this.s.writeProtectTab };
  }

  modeSelect(what: { density?: number; blockSize?: number }): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (
      what.blockSize !== undefined &&
      what.blockSize !== 0 &&
      (what.blockSize < this.params.minBlock || what.blockSize > this.params.maxBlock)
    ) {
      return check('ILLEGAL_REQUEST', { asc: 0x26 });
    }
    if (what.blockSize !== undefined) this.s.blockSize = what.blockSize;
    if (what.density !== undefined) this.s.density = what.density;
    return OK;
  }

  /** SPACE over `count` blocks (records); negative is backwards. Stops at a filemark (FILEMARK), BOT (EOM) or end of data (BLANK CHECK). */
  spaceBlocks(count: number): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    const n = Math.abs(count);
    for (let done = 0; done < n; done++) {
      if (count > 0) {
        const it = this.medium.item(this.s.pos);
        if (!it) return check('BLANK_CHECK', { residual: n - done, eom: this.#pastEarlyWarning(this.s.pos) });
        this.s.pos++;
        if (it.kind === 'filemark') return check('NO_SENSE', { fmk: true, residual: n - done });
      } else {
        if (this.s.pos === 0) return check('NO_SENSE', { eom: true, residual: n - done });
        const it = this.medium.item(this.s.pos - 1);
        this.s.pos--;
        // Backwards, a filemark stops the head on its beginning-of-tape side.
        if (it?.kind === 'filemark') return check('NO_SENSE', { fmk: true, residual: n - done });
      }
    }
    return OK;
  }

  /** SPACE over `count` filemarks; forwards ends after the last one, backwards before it. */
  spaceFilemarks(count: number): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    const n = Math.abs(count);
    let done = 0;
    while (done < n) {
      if (count > 0) {
        const it = this.medium.item(this.s.pos);
        if (!it) return check('BLANK_CHECK', { residual: n - done, eom: this.#pastEarlyWarning(this.s.pos) });
        this.s.pos++;
        if (it.kind === 'filemark') done++;
      } else {
        if (this.s.pos === 0) return check('NO_SENSE', { eom: true, residual: n - done });
        this.s.pos--;
        if (this.medium.item(this.s.pos)?.kind === 'filemark') done++;
      }
    }
    return OK;
  }

  spaceToEndOfData(): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    this.s.pos = this.medium.length;
    return OK;
  }

  /** Setmarks are a DDS feature this (LTO-like) drive does not have. */
  spaceSetmarks(): Outcome {
    return this.#notReady() ?? check('ILLEGAL_REQUEST', { asc: 0x24 });
  }

  /** READ in variable mode: the next record, up to `length` bytes (SILI off: a length mismatch reports ILI). */
  readVariable(length: number): { data: Buffer; outcome: Outcome } {
    const nr = this.#notReady();
    if (nr) return { data: Buffer.alloc(0), outcome: nr };
    const it = this.medium.item(this.s.pos);
    if (!it) return { data: Buffer.alloc(0), outcome: check('BLANK_CHECK', { residual: length }) };
    this.s.pos++;
    if (it.kind === 'filemark') return { data: Buffer.alloc(0), outcome: check('NO_SENSE', { fmk: true, residual: length }) };
    const rec = this.medium.readRecord(this.s.pos - 1);
    const data = rec.subarray(0, Math.min(length, rec.length));
    return { data, outcome: rec.length === length ? OK : check('NO_SENSE', { ili: true, residual: length - rec.length }) };
  }

  /** READ in fixed mode: `blocks` records of `blockSize` bytes each; residual counts blocks. */
  readFixed(blocks: number, blockSize: number): { data: Buffer; outcome: Outcome } {
    const nr = this.#notReady();
    if (nr) return { data: Buffer.alloc(0), outcome: nr };
    const parts: Buffer[] = [];
    for (let done = 0; done < blocks; done++) {
      const it = this.medium.item(this.s.pos);
      if (!it) return { data: Buffer.concat(parts), outcome: check('BLANK_CHECK', { residual: blocks - done }) };
      this.s.pos++;
      if (it.kind === 'filemark') return { data: Buffer.concat(parts), outcome: check('NO_SENSE', { fmk: true, residual: blocks - done }) };
      if (it.length !== blockSize) {
        // The drive moves past the odd block and reports it as not transferred.
        return { data: Buffer.concat(parts), outcome: check('NO_SENSE', { ili: true, residual: blocks - done }) };
      }
      parts.push(this.medium.readRecord(this.s.pos - 1));
    }
    return { data: Buffer.concat(parts), outcome: OK };
  }

  /**
   * WRITE: one record (variable mode) or `data.length / blockSize` blocks.
   * Everything after the head is lost. Past the early warning the data is
   * written and EOM reported; what does not fit before the physical end is
   * not written (VOLUME OVERFLOW, residual = what was left).
   */
  write(data: Buffer, blockSize: number): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (this.s.writeProtectTab) return check('DATA_PROTECT', { asc: 0x27 });
    const records: Buffer[] = [];
    if (blockSize === 0) records.push(data);
    else for (let at = 0; at < data.length; at += blockSize) records.push(data.subarray(at, at + blockSize));
    const room = this.params.capacityBytes - this.medium.bytesBefore(this.s.pos);
    let fit = 0;
    let bytes = 0;
    while (fit < records.length && bytes + (records[fit]?.length ?? 0) <= room) bytes += records[fit++]?.length ?? 0;
    if (fit > 0) this.medium.write(this.s.pos, { records: records.slice(0, fit) });
    this.s.pos += fit;
    if (fit < records.length) {
      const residual = blockSize === 0 ? data.length : records.length - fit;
      return check('VOLUME_OVERFLOW', { eom: true, residual });
    }
    return this.#pastEarlyWarning(this.s.pos) ? check('NO_SENSE', { eom: true, residual: 0 }) : OK;
  }

  writeFilemarks(count: number, setmark = false): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (this.s.writeProtectTab) return check('DATA_PROTECT', { asc: 0x27 });
    if (setmark) return check('ILLEGAL_REQUEST', { asc: 0x24 });
    // WRITE FILEMARKS with a count of 0 only flushes the drive's buffer.
    if (count > 0) this.medium.write(this.s.pos, { filemarks: count });
    this.s.pos += count;
    return this.#pastEarlyWarning(this.s.pos) ? check('NO_SENSE', { eom: true, residual: 0 }) : OK;
  }

  rewind(): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    this.s.pos = 0;
    return OK;
  }

  /** LOCATE to a logical object (records and filemarks both count). */
  locate(block: number): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (block > this.medium.length) {
      this.s.pos = this.medium.length;
      return check('BLANK_CHECK', { residual: 0 });
    }
    this.s.pos = block;
    return OK;
  }

  readPosition(): { block: number; bop: boolean } | Outcome {
    return this.#notReady() ?? { block: this.s.pos, bop: this.s.pos === 0 };
  }

  /** ERASE (short or long): end of data at the head; the head stays. */
  erase(): Outcome {
    const nr = this.#notReady();
    if (nr) return nr;
    if (this.s.writeProtectTab) return check('DATA_PROTECT', { asc: 0x27 });
    if (this.s.pos < this.medium.length) this.medium.write(this.s.pos, {});
    return OK;
  }

  /** START STOP UNIT: load (maybe retension) or unload (rewind and eject). */
  startStop(load: boolean, retension = false): Outcome {
    if (load) {
      if (!this.s.loaded) {
        this.s.loaded = true;
        this.s.newMedium = true;
      }
      this.s.pos = retension ? 0 : this.s.pos;
      return OK;
    }
    const nr = this.#notReady();
    if (nr) return nr;
    if (this.s.locked) return check('ILLEGAL_REQUEST', { asc: 0x53 });
    this.s.pos = 0;
    this.s.loaded = false;
    return OK;
  }

  preventRemoval(prevent: boolean): Outcome {
    this.s.locked = prevent;
    return OK;
  }
}
