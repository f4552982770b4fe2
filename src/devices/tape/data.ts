/**
 * Payload data for `write` and `read`: text in one of three encodings to
 * bytes and back (strictly: a stray character is a bad argument, not silently
 * dropped data), and bytes into the records one write(2) each puts on tape.
 */
import { CommandError } from '../errors.js';

export const ENCODINGS = ['utf8', 'base64', 'hex'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function decodePayload(data: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'utf8':
      return Buffer.from(data, 'utf8');
    case 'base64': {
      const clean = data.replace(/\s+/g, '');
      if (!BASE64.test(clean)) throw new CommandError('bad_args', 'data is not valid base64', { path: 'data' });
      return Buffer.from(clean, 'base64');
    }
    case 'hex': {
      const clean = data.replace(/\s+/g, '');
      if (!HEX.test(clean)) throw new CommandError('bad_args', 'data is not valid hex (pairs of 0-9a-f)', { path: 'data' });
      return Buffer.from(clean, 'hex');
    }
  }
}

export function encodePayload(data: Buffer, encoding: Encoding): string {
  return data.toString(encoding);
}

export interface Records {
  /** Each is one write(2): a record in variable-block mode, whole blocks in fixed mode. */
  readonly writes: Buffer[];
  readonly records: number;
  /** Zero bytes added to fill the last fixed-size block. */
  readonly paddedBytes: number;
}

/**
 * Splits data for the tape: in fixed-block mode into `blockSize` blocks (the
 * last one padded with zeros when `pad`, else refused), written up to
 * `chunkBytes` per call; in variable-block mode into records of at most
 * `recordBytes` (by default the whole payload is one record).
 */
export function toRecords(data: Buffer, blockSize: number, o: { pad: boolean; recordBytes: number; chunkBytes: number }): Records {
  if (data.length === 0) return { writes: [], records: 0, paddedBytes: 0 };
  if (blockSize === 0) {
    const writes: Buffer[] = [];
    for (let at = 0; at < data.length; at += o.recordBytes) writes.push(data.subarray(at, at + o.recordBytes));
    return { writes, records: writes.length, paddedBytes: 0 };
  }
  const rest = data.length % blockSize;
  if (rest !== 0 && !o.pad) {
    throw new CommandError(
      'bad_args',
      `the drive is in fixed-block mode (${blockSize} bytes) and ${data.length} bytes are not whole blocks; pass pad: true or setblk 0`,
    );
  }
  const paddedBytes = rest === 0 ? 0 : blockSize - rest;
  const whole = paddedBytes ? Buffer.concat([data, Buffer.alloc(paddedBytes)]) : data;
  const perWrite = Math.max(1, Math.floor(o.chunkBytes / blockSize)) * blockSize;
  const writes: Buffer[] = [];
  for (let at = 0; at < whole.length; at += perWrite) writes.push(whole.subarray(at, at + perWrite));
  return { writes, records: whole.length / blockSize, paddedBytes };
}
