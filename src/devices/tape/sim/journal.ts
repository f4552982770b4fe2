/**
 * An append-only journal file: the tape model's image. Each change (a record,
 * filemarks, a truncation, the drive's state) is appended as one frame with a
 * length and a CRC, in one write(2). A process killed halfway leaves at most
 * a torn last frame, which the next open detects and cuts off, so the image
 * always replays to the state after the last complete change. Compaction
 * writes a new file beside the old one, fsyncs it and renames it over, so a
 * crash during compaction leaves either the old image or the new one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeDir } from '../../../make-dir.js';
import { isSystemError } from '../../errors.js';

const MAGIC = Buffer.from('D2MTAPE1');
const FRAME_MARK = 0xd2;
/** mark(1) type(1) length(4) crc(4) */
export const FRAME_HEADER = 10;

export interface Frame {
  readonly type: number;
  /** Offset of the payload in the file (records are read from there on demand). */
  readonly offset: number;
  readonly length: number;
  /** Small payloads (everything but records) are kept; records are read lazily. */
  readonly payload: Buffer | null;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bufs: readonly Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of bufs) for (let i = 0; i < b.length; i++) c = (CRC_TABLE[(c ^ (b[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Names the image in a storage error that does not (a write(2) on a descriptor
 * has no path): the errno alone on the tape's result would read as the tape's
 * own ENOSPC (end of medium), not the disk under the simulation.
 */
function onImage(e: unknown, file: string): unknown {
  if (!isSystemError(e)) return e;
  if (!e.path) {
    e.path = file;
    e.message = `${e.message}: the simulated tape's image ${file}`;
  }
  return e;
}

export function frame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer[] {
  const head = Buffer.alloc(FRAME_HEADER);
  head.writeUInt8(FRAME_MARK, 0);
  head.writeUInt8(type, 1);
  head.writeUInt32LE(payload.length, 2);
  head.writeUInt32LE(crc32([head.subarray(1, 2), payload]), 6);
  return [head, Buffer.from(payload.buffer, payload.byteOffset, payload.length)];
}

export class Journal {
  #fd: number;
  #size: number;
  readonly file: string;

  private constructor(file: string, fd: number, size: number) {
    this.file = file;
    this.#fd = fd;
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Opens (creating) the journal and replays it. `keepPayload(type)` says which
   * frame types are small enough to hold in memory.
   */
  static open(file: string, keepPayload: (type: number) => boolean): { journal: Journal; frames: Frame[]; repairedBytes: number } {
    try {
      return Journal.#open(file, keepPayload);
    } catch (e) {
      throw onImage(e, file);
    }
  }

  static #open(file: string, keepPayload: (type: number) => boolean): { journal: Journal; frames: Frame[]; repairedBytes: number } {
    makeDir(path.dirname(file));
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      const total = fs.fstatSync(fd).size;
      if (total < MAGIC.length) {
        fs.ftruncateSync(fd, 0);
        fs.writeSync(fd, MAGIC, 0, MAGIC.length, 0);
        return { journal: new Journal(file, fd, MAGIC.length), frames: [], repairedBytes: total };
      }
      const magic = Buffer.alloc(MAGIC.length);
      fs.readSync(fd, magic, 0, MAGIC.length, 0);
      if (!magic.equals(MAGIC)) throw new Error(`${file} is not a dev2mqtt tape image (bad magic)`);
      const { frames, end } = scan(fd, total, keepPayload);
      if (end < total) fs.ftruncateSync(fd, end);
      return { journal: new Journal(file, fd, end), frames, repairedBytes: total - end };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Appends frames in one write; returns the payload offset of each. */
  append(frames: readonly Buffer[][]): number[] {
    const offsets: number[] = [];
    let at = this.#size;
    for (const [head, payload] of frames) {
      offsets.push(at + FRAME_HEADER);
      at += (head?.length ?? 0) + (payload?.length ?? 0);
    }
    const all = Buffer.concat(frames.flat());
    let done = 0;
    try {
      // At the end of what is known good: a part written before a failure is overwritten by the next append.
      while (done < all.length) done += fs.writeSync(this.#fd, all, done, all.length - done, this.#size + done);
    } catch (e) {
      throw onImage(e, this.file);
    }
    this.#size += all.length;
    return offsets;
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    const buf = into ?? Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = fs.readSync(this.#fd, buf, done, length - done, offset + done);
      } catch (e) {
        throw onImage(e, this.file);
      }
      if (n === 0) throw new Error(`${this.file}: short read at ${offset + done}`);
      done += n;
    }
    return buf;
  }

  /**
   * Replaces the file with `write`'s output, atomically: the new image is
   * written to a temporary file, fsynced, and renamed over the old one.
   * `write` gets an append function that returns each payload's offset.
   */
  rewrite(write: (append: (type: number, payload?: Uint8Array) => number) => void): void {
    const tmp = `${this.file}.tmp-${process.pid}`;
    let fd: number;
    try {
      fd = fs.openSync(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
    } catch (e) {
      throw onImage(e, this.file);
    }
    let size = 0;
    try {
      const put = (b: Buffer): void => {
        let done = 0;
        while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, size + done);
        size += b.length;
      };
      put(MAGIC);
      write((type, payload) => {
        const [head, body] = frame(type, payload);
        put(head as Buffer);
        const at = size;
        put(body as Buffer);
        return at;
      });
      fs.fsyncSync(fd);
      fs.renameSync(tmp, this.file);
    } catch (e) {
      // The old image stays whole and in use; the half-written new one goes (where the disk lets it).
      closeQuietly(fd);
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // A read-only or failing disk: nothing more to tidy.
      }
      throw onImage(e, this.file);
    }
    syncDir(path.dirname(this.file));
    closeQuietly(this.#fd);
    this.#fd = fd;
    this.#size = size;
  }

  close(): void {
    if (this.#fd >= 0) closeQuietly(this.#fd);
    this.#fd = -1;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // close(2) releases the descriptor even when it reports a deferred write error.
  }
}

function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY);
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** Reads frames until the end or the first torn/corrupt one. */
function scan(fd: number, total: number, keepPayload: (type: number) => boolean): { frames: Frame[]; end: number } {
  const frames: Frame[] = [];
  const head = Buffer.alloc(FRAME_HEADER);
  let at = MAGIC.length;
  let chunk = Buffer.alloc(1 << 16);
  while (at + FRAME_HEADER <= total) {
    fs.readSync(fd, head, 0, FRAME_HEADER, at);
    if (head.readUInt8(0) !== FRAME_MARK) break;
    const type = head.readUInt8(1);
    const length = head.readUInt32LE(2);
    const want = head.readUInt32LE(6);
    if (at + FRAME_HEADER + length > total) break;
    if (chunk.length < length) chunk = Buffer.alloc(length);
    const body = chunk.subarray(0, length);
    let done = 0;
    while (done < length) done += fs.readSync(fd, body, done, length - done, at + FRAME_HEADER + done);
    if (crc32([head.subarray(1, 2), body]) !== want) break;
    frames.push({ type, offset: at + FRAME_HEADER, length, payload: keepPayload(type) ? Buffer.from(body) : null });
    at += FRAME_HEADER + length;
  }
  return { frames, end: at };
}
