/**
 * The cartridge: a sequence of records and filemarks, with end of data after
 * the last one, kept in a journal file under the device's state directory.
 * Record data stays in the file and is read when the drive reads it, so a
 * large image costs little memory. The drive's and driver's state is kept in
 * the same journal, so a restart finds the tape where it was left.
 */
import { isSystemError } from '../../errors.js';
import { FRAME_HEADER, Journal, frame } from './journal.js';

export type Item = { readonly kind: 'record'; readonly offset: number; readonly length: number } | { readonly kind: 'filemark' };

const T_RECORD = 1;
const T_FILEMARKS = 2;
const T_TRUNCATE = 3;
const T_STATE = 4;

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};

/** Compact when this much of the file is dead (overwritten data, old states) and it outweighs the live part. */
const COMPACT_MIN_GARBAGE = 1 << 20;

export class Medium {
  readonly #journal: Journal;
  #items: Item[] = [];
  /** #ends[i]: record bytes in items 0..i (capacity accounting). */
  #ends: number[] = [];
  #state: string | null = null;
  /** Writes replayed after the last saved state: a kill landed between a write and its bookkeeping. */
  #unsaved: Array<{ readonly records: number; readonly filemarks: number; readonly end: number }> = [];
  #garbage = 0;
  /** Bytes a torn last frame left in the file when it was opened (a crash mid-write). */
  readonly repairedBytes: number;

  private constructor(journal: Journal, repairedBytes: number) {
    this.#journal = journal;
    this.repairedBytes = repairedBytes;
  }

  static open(file: string): Medium {
    const { journal, frames, repairedBytes } = Journal.open(file, (t) => t !== T_RECORD);
    const m = new Medium(journal, repairedBytes);
    for (const f of frames) {
      switch (f.type) {
        case T_RECORD:
          m.#push({ kind: 'record', offset: f.offset, length: f.length });
          m.#unsaved.push({ records: 1, filemarks: 0, end: m.#items.length });
          break;
        case T_FILEMARKS: {
          const n = f.payload?.readUInt32LE(0) ?? 0;
          for (let i = n; i > 0; i--) m.#push({ kind: 'filemark' });
          m.#unsaved.push({ records: 0, filemarks: n, end: m.#items.length });
          break;
        }
        case T_TRUNCATE:
          m.#cut(f.payload?.readUInt32LE(0) ?? 0);
          break;
        case T_STATE:
          if (m.#state !== null) m.#garbage += FRAME_HEADER + Buffer.byteLength(m.#state);
          m.#state = f.payload?.toString('utf8') ?? null;
          m.#unsaved = [];
          break;
        default:
          throw new Error(`${file}: unknown frame type ${f.type}`);
      }
    }
    m.#maybeCompact();
    return m;
  }

  get length(): number {
    return this.#items.length;
  }

  item(i: number): Item | undefined {
    return this.#items[i];
  }

  /** Record bytes before position `pos` (what the tape has used up to there). */
  bytesBefore(pos: number): number {
    return pos <= 0 ? 0 : (this.#ends[Math.min(pos, this.#items.length) - 1] ?? 0);
  }

  readRecord(i: number): Buffer {
    const it = this.#items[i];
    if (!it || it.kind !== 'record') throw new RangeError(`item ${i} is not a record`);
    return this.#journal.read(it.offset, it.length);
  }

  /** Everything from `pos` on is gone (a write or an erase there), in one journal write with what follows. */
  write(pos: number, what: { records?: readonly Uint8Array[]; filemarks?: number }): void {
    const frames: Buffer[][] = [];
    if (pos < this.#items.length) frames.push(frame(T_TRUNCATE, u32(pos)));
    for (const r of what.records ?? []) frames.push(frame(T_RECORD, r));
    if (what.filemarks) frames.push(frame(T_FILEMARKS, u32(what.filemarks)));
    if (!frames.length) return;
    const offsets = this.#journal.append(frames);
    let k = 0;
    if (pos < this.#items.length) {
      this.#cut(pos);
      k++;
    }
    for (const r of what.records ?? []) this.#push({ kind: 'record', offset: offsets[k++] ?? 0, length: r.length });
    for (let i = what.filemarks ?? 0; i > 0; i--) this.#push({ kind: 'filemark' });
    this.#maybeCompact();
  }

  /**
   * What reached the tape after the last saved state, in order (records and
   * filemarks): the model replays st's bookkeeping for them. Empty after a clean run.
   */
  get unsaved(): ReadonlyArray<{ readonly records: number; readonly filemarks: number; readonly end: number }> {
    return this.#unsaved;
  }

  /** The last saved drive/driver state (JSON text), or null for a new image. */
  get state(): string | null {
    return this.#state;
  }

  saveState(json: string): void {
    if (json === this.#state) return;
    this.#journal.append([frame(T_STATE, Buffer.from(json, 'utf8'))]);
    this.#unsaved = [];
    if (this.#state !== null) this.#garbage += FRAME_HEADER + Buffer.byteLength(this.#state);
    this.#state = json;
    this.#maybeCompact();
  }

  close(): void {
    this.#journal.close();
  }

  #push(it: Item): void {
    const before = this.#ends[this.#ends.length - 1] ?? 0;
    this.#items.push(it);
    this.#ends.push(before + (it.kind === 'record' ? it.length : 0));
  }

  #cut(pos: number): void {
    for (const it of this.#items.slice(pos)) this.#garbage += FRAME_HEADER + (it.kind === 'record' ? it.length : 4);
    this.#items.length = Math.min(pos, this.#items.length);
    this.#ends.length = this.#items.length;
    this.#garbage += FRAME_HEADER + 4;
  }

  /** Never fails the change that called it: a compaction the disk refuses is tried again after the next change. */
  #maybeCompact(): void {
    if (this.#garbage < COMPACT_MIN_GARBAGE || this.#garbage < this.#journal.size - this.#garbage) return;
    try {
      this.#compact();
    } catch (e) {
      if (!isSystemError(e)) throw e;
    }
  }

  #compact(): void {
    const old = this.#items;
    const next: Item[] = [];
    this.#journal.rewrite((append) => {
      let marks = 0;
      const flush = (): void => {
        if (marks) append(T_FILEMARKS, u32(marks));
        marks = 0;
      };
      for (const [i, it] of old.entries()) {
        if (it.kind === 'filemark') {
          marks++;
          next.push(it);
          continue;
        }
        flush();
        const data = this.readRecord(i);
        next.push({ kind: 'record', offset: append(T_RECORD, data), length: it.length });
      }
      flush();
      if (this.#state !== null) append(T_STATE, Buffer.from(this.#state, 'utf8'));
    });
    this.#items = next;
    this.#garbage = 0;
  }
}
