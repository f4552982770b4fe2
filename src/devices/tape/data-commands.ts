/**
 * Data commands: `write`/`read` carry the data in the MQTT payload;
 * `writeFile`/`readFile` move a whole file between the configured directory
 * and the tape, for data too big for a message, with progress events.
 */
import type { FileHandle } from 'node:fs/promises';
import { s } from '../../schema/schema.js';
import { isKernelError } from '../../kernel/errors.js';
import { command, type CommandSpec } from '../kind.js';
import { CommandError } from '../errors.js';
import { ENCODINGS, decodePayload, encodePayload, toRecords } from './data.js';
import type { TapeDevice } from './device.js';
import { openDestination, openSource } from './files.js';
import { ProgressThrottle } from './progress.js';

const HOUR = 3600_000;

function position(dev: TapeDevice): Record<string, unknown> {
  const st = dev.refresh();
  return { fileNumber: st.fileNumber, blockNumber: st.blockNumber, eot: st.eot, eod: st.eod };
}

/**
 * Writes each buffer with one write(2); a short write is the end of the
 * medium. `before`: bytes an enclosing transfer already wrote, for the message.
 */
async function writeAll(dev: TapeDevice, writes: readonly Buffer[], before = 0): Promise<number> {
  let done = 0;
  const endOfMedium = (): CommandError =>
    new CommandError(
      'device_error',
      `end of medium: ${before + done} bytes reached the tape; end it with weof and continue on another cartridge`,
      { errno: 'ENOSPC', bytesWritten: before + done },
    );
  for (const w of writes) {
    let n: number;
    try {
      n = await dev.io.write(w);
    } catch (e) {
      if (isKernelError(e, 'ENOSPC')) throw endOfMedium();
      throw e;
    }
    done += n;
    if (n < w.length) throw endOfMedium();
  }
  return done;
}

/** How many bytes one read(2) asks for: a whole number of blocks in fixed mode. */
function readSize(dev: TapeDevice, maxBytes: number): number {
  const bs = dev.refresh().blockSize;
  if (maxBytes > dev.options.maxRecordBytes) {
    throw new CommandError('bad_args', `maxBytes ${maxBytes} is over options.maxRecordBytes (${dev.options.maxRecordBytes})`);
  }
  if (bs === 0) return maxBytes;
  if (maxBytes < bs) throw new CommandError('bad_args', `the drive is in fixed-block mode: read at least one block (${bs} bytes)`);
  return maxBytes - (maxBytes % bs);
}

function tooLong(e: unknown, asked: number): unknown {
  if (!isKernelError(e, 'ENOMEM')) return e;
  return new CommandError(
    'device_error',
    `the record is longer than ${asked} bytes and the drive has moved past it; bsr 1 and read it with a larger maxBytes`,
    { errno: 'ENOMEM', syscall: 'read', path: e.path },
  );
}

/** Fills `buf` from the file unless it ends first, so every record but the last is full size. */
async function readFull(handle: FileHandle, buf: Buffer): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await handle.read(buf, got, buf.length - got, null);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

export const dataCommands: Record<string, CommandSpec<TapeDevice, unknown>> = {
  write: command({
    description: 'write data to tape: one record (variable-block mode) or blockSize records (fixed mode; the last one zero-padded)',
    args: s.object({
      data: s.string().doc('the bytes, in `encoding`'),
      encoding: s.enum(ENCODINGS).default('utf8'),
      pad: s.boolean().default(true).doc('fixed-block mode: zero-fill the last block (false: refuse data that is not whole blocks)'),
      recordBytes: s.int({ min: 1, max: 0xffffff }).optional().doc('variable-block mode: split into records of this size'),
    }),
    timeoutMs: 10 * 60_000,
    run: async (dev: TapeDevice, a) => {
      const bytes = decodePayload(a.data, a.encoding);
      const bs = dev.refresh().blockSize;
      const recs = toRecords(bytes, bs, {
        pad: a.pad,
        recordBytes: a.recordBytes ?? Math.max(1, bytes.length),
        chunkBytes: dev.options.recordBytes,
      });
      const written = await dev.busyWhile('write', () => writeAll(dev, recs.writes));
      return { bytes: written, records: recs.records, paddedBytes: recs.paddedBytes, ...position(dev) };
    },
  }),
  read: command({
    description: 'read(2) once: the next record (variable-block mode) or whole blocks (fixed); 0 bytes at a filemark',
    args: s.object({
      maxBytes: s.int({ min: 1, max: 0xffffff }).optional().doc('default: options.maxRecordBytes (a longer record fails with ENOMEM)'),
      encoding: s.enum(ENCODINGS).default('base64'),
    }),
    timeoutMs: 10 * 60_000,
    run: async (dev: TapeDevice, a) => {
      const n = readSize(dev, a.maxBytes ?? dev.options.maxRecordBytes);
      const data = await dev.busyWhile('read', async () => {
        try {
          return await dev.io.read(n);
        } catch (e) {
          throw tooLong(e, n);
        }
      });
      return {
        data: encodePayload(data, a.encoding),
        encoding: a.encoding,
        bytes: data.length,
        filemark: data.length === 0,
        ...position(dev),
      };
    },
  }),
  writeFile: command({
    description: 'write a file from filesDir to tape as records (fixed mode: blocks, the last zero-padded), with progress events',
    args: s.object({
      name: s.string({ minLength: 1, maxLength: 4096 }).doc('path relative to options.filesDir'),
      weof: s.boolean().default(false).doc('end the tape file with a filemark afterwards'),
    }),
    timeoutMs: 24 * HOUR,
    run: async (dev: TapeDevice, a, ctx) => {
      const src = await openSource(dev.filesDir(), a.name);
      try {
        const bs = dev.refresh().blockSize;
        const chunk = bs === 0 ? dev.options.recordBytes : Math.max(bs, dev.options.recordBytes - (dev.options.recordBytes % bs));
        const progress = new ProgressThrottle((p) => ctx.progress({ ...p }), src.size);
        let bytes = 0;
        let records = 0;
        let paddedBytes = 0;
        await dev.busyWhile('writeFile', async () => {
          const buf = Buffer.alloc(chunk);
          for (;;) {
            ctx.signal.throwIfAborted();
            const bytesRead = await readFull(src.handle, buf);
            if (bytesRead === 0) break;
            const recs = toRecords(buf.subarray(0, bytesRead), bs, { pad: true, recordBytes: chunk, chunkBytes: chunk });
            await writeAll(dev, recs.writes, bytes);
            bytes += bytesRead;
            records += recs.records;
            paddedBytes += recs.paddedBytes;
            progress.update(bytes);
          }
          if (a.weof) await dev.io.op('WEOF', 1);
        });
        progress.done(bytes);
        return { name: a.name, bytes, records, paddedBytes, filemark: a.weof, ...position(dev) };
      } finally {
        await src.handle.close();
      }
    },
  }),
  readFile: command({
    description: 'read the tape file at the current position (up to its filemark) into a file in filesDir, with progress events',
    args: s.object({
      name: s.string({ minLength: 1, maxLength: 4096 }).doc('path relative to options.filesDir'),
      overwrite: s.boolean().default(false).doc('replace an existing file'),
    }),
    timeoutMs: 24 * HOUR,
    run: async (dev: TapeDevice, a, ctx) => {
      const n = readSize(dev, dev.options.maxRecordBytes);
      const dst = await openDestination(dev.filesDir(), a.name, a.overwrite);
      const progress = new ProgressThrottle((p) => ctx.progress({ ...p }), null);
      let bytes = 0;
      let records = 0;
      try {
        await dev.busyWhile('readFile', async () => {
          for (;;) {
            ctx.signal.throwIfAborted();
            let data: Buffer;
            try {
              data = await dev.io.read(n);
            } catch (e) {
              const err = tooLong(e, n);
              if (err instanceof CommandError) throw err;
              throw new CommandError(
                'device_error',
                `${(e as Error).message} after ${bytes} bytes (a medium error, or end of data without a filemark); '${a.name}' holds what was read`,
                { errno: isKernelError(e) ? e.code : undefined, bytesRead: bytes, name: a.name },
              );
            }
            if (data.length === 0) break; // the filemark: the end of this tape file
            await dst.handle.write(data, 0, data.length, null);
            bytes += data.length;
            records++;
            progress.update(bytes);
          }
        });
      } finally {
        await dst.handle.close();
      }
      progress.done(bytes);
      return { name: a.name, bytes, records, ...position(dev) };
    },
  }),
};
