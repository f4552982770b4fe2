/**
 * The st model against the table in src/devices/tape/README.md: after each
 * operation of a long sequence, the file/block numbers and GMT flags MTIOCGET
 * reports, and the errno of the calls that fail — all through the real
 * request codes and struct buffers (TapeIo), as the tape kind uses them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isKernelError } from '../../../src/kernel/errors.js';
import type { SimTapeKernel } from '../../../src/devices/tape/sim/kernel.js';
import type { TapeIo } from '../../../src/devices/tape/tape-io.js';
import { openSim, simKernel, where } from './sim-helpers.js';
import { until } from '../../helpers/wait.js';

type Step = readonly [label: string, run: (io: TapeIo) => Promise<unknown>, expected: string, outcome?: string];

const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const readText = async (io: TapeIo, n = 64): Promise<string> => (await io.read(n)).toString('utf8');

async function outcomeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    const r = await run();
    return r === undefined ? 'ok' : JSON.stringify(r);
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
}

async function play(io: TapeIo, steps: readonly Step[]): Promise<void> {
  const seen: string[] = [];
  const want: string[] = [];
  for (const [label, run, expected, outcome = 'ok'] of steps) {
    const got = await outcomeOf(() => run(io));
    seen.push(`${label} → ${got} @ ${where(io)}`);
    want.push(`${label} → ${outcome} @ ${expected}`);
  }
  // One comparison of the whole run shows every divergence at once.
  expect(seen).toEqual(want);
}

let kernel: SimTapeKernel | undefined;
afterEach(() => {
  kernel?.dispose();
  kernel = undefined;
});

describe('st model: positions and flags along a long sequence (variable-block mode)', () => {
  it('matches the table', async () => {
    kernel = simKernel();
    const io = openSim(kernel);
    await play(io, [
      ['status of a new tape', async () => undefined, '0/0 bot,online'],
      ['write a', (t) => t.write(text('a')), '0/1 online', '1'],
      ['write bb', (t) => t.write(text('bb')), '0/2 online', '2'],
      ['write ccc', (t) => t.write(text('ccc')), '0/3 online', '3'],
      ['weof', (t) => t.op('WEOF', 1), '1/0 eof,online'],
      ['write dd', (t) => t.write(text('dd')), '1/1 online', '2'],
      ['weof', (t) => t.op('WEOF', 1), '2/0 eof,online'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['fsf 1', (t) => t.op('FSF', 1), '1/0 eof,online'],
      ['read', (t) => readText(t), '1/1 online', '"dd"'],
      ['read at filemark', (t) => readText(t), '2/0 eof,online', '""'],
      ['read at end of data', (t) => readText(t), '2/-1 eod,online', '""'],
      ['read past end of data', (t) => readText(t), '2/-1 eod,online', 'EIO'],
      ['bsf 1', (t) => t.op('BSF', 1), '1/-1 online'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['fsr 2', (t) => t.op('FSR', 2), '0/2 online'],
      ['bsr 1', (t) => t.op('BSR', 1), '0/1 online'],
      ['read', (t) => readText(t), '0/2 online', '"bb"'],
      ['fsr 5 runs into the filemark', (t) => t.op('FSR', 5), '1/0 eof,online', 'EIO'],
      ['bsr 1 stops at the filemark', (t) => t.op('BSR', 1), '0/-1 online', 'EIO'],
      ['eom', (t) => t.op('EOM'), '2/-1 eod,online'],
      ['write e at end of data', (t) => t.write(text('e')), '2/-1 online', '1'],
      ['weof', (t) => t.op('WEOF', 1), '3/0 eof,online'],
      ['bsf 2', (t) => t.op('BSF', 2), '1/-1 online'],
      ['fsf 1', (t) => t.op('FSF', 1), '2/0 eof,online'],
      ['read', (t) => readText(t), '2/1 online', '"e"'],
      ['bsf 5 runs into the beginning', (t) => t.op('BSF', 5), '0/0 bot,online', 'EIO'],
      ['fsf 9 runs into end of data', (t) => t.op('FSF', 9), '3/-1 eod,online', 'EIO'],
      ['seek 4', (t) => t.op('SEEK', 4), '-1/-1 online'],
      ['tell', (t) => t.position(), '-1/-1 online', '4'],
      ['read after seek', (t) => readText(t), '-1/-1 online', '"dd"'],
      ['seek 0', (t) => t.op('SEEK', 0), '0/0 bot,online'],
      ['fsr 1', (t) => t.op('FSR', 1), '0/1 online'],
      ['read bb with a 1-byte buffer', (t) => readText(t, 1), '0/2 online', 'ENOMEM'],
      ['unload', (t) => t.op('OFFL'), '0/2 doorOpen'],
      ['read without a tape', (t) => readText(t), '0/2 doorOpen', 'ENOMEDIUM'],
      ['rewind without a tape', (t) => t.op('REW'), '0/2 doorOpen', 'ENOMEDIUM'],
      ['unload again', (t) => t.op('OFFL'), '0/2 doorOpen', 'ENOMEDIUM'],
      ['tell without a tape', (t) => t.position(), '0/2 doorOpen', 'EIO'],
      ['load', (t) => t.op('LOAD'), '0/0 bot,online'],
      ['read after load', (t) => readText(t), '0/1 online', '"a"'],
      ['lock', (t) => t.op('LOCK'), '0/1 online'],
      ['unload a locked drive', (t) => t.op('UNLOAD'), '-1/-1 online', 'EIO'],
      ['offline unlocks first', (t) => t.op('OFFL'), '-1/-1 doorOpen'],
      ['load', (t) => t.op('LOAD'), '0/0 bot,online'],
      ['retension', (t) => t.op('RETEN'), '0/0 bot,online'],
      [
        'fsf 1, then erase the rest',
        async (t) => {
          await t.op('FSF', 1);
          await t.op('ERASE', 1);
        },
        '1/0 eof,online',
      ],
      ['eom', (t) => t.op('EOM'), '1/-1 eod,online'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['unknown operation', (t) => t.op('RAS1'), '0/0 bot,online', 'ENOSYS'],
      ['setmarks are not supported', (t) => t.op('FSS', 1), '0/0 bot,online', 'EIO'],
      ['no partitions', (t) => t.op('MKPART', 1), '0/0 bot,online', 'EINVAL'],
      ['seek 1', (t) => t.op('SEEK', 1), '-1/-1 online'],
      ['bsr 1 back to the beginning', (t) => t.op('BSR', 1), '-1/-1 online'],
      ['tell at the beginning also fixes the numbers', (t) => t.position(), '0/0 bot,online', '0'],
      ['seek past end of data', (t) => t.op('SEEK', 99), '-1/-1 online', 'EIO'],
      ['eom from an unknown file number', (t) => t.op('EOM'), '-1/-1 eod,online'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['eom', (t) => t.op('EOM'), '1/-1 eod,online'],
      ['fsr at end of data', (t) => t.op('FSR', 1), '1/-1 eod,online', 'EIO'],
    ]);
  });

  it('a synchronous call while a blocking one runs gets EBUSY; blocking calls queue', async () => {
    kernel = simKernel({ timing: { rewindMs: 30_000 } });
    const io = openSim(kernel);
    await io.write(text('x'));
    const order: string[] = [];
    const rewind = io.op('REW').then(() => order.push('rewind'));
    const after = io.op('FSR', 2).catch((e: { code?: string }) => order.push(`fsr ${e.code ?? ''}`));
    // Waits for the rewind to be in flight; the poll's timer falls due long before the rewind's.
    const k = kernel;
    await until(() => k.inFlight === 'MTREW', 'the rewind in flight');
    expect(() => io.status()).toThrow(expect.objectContaining({ code: 'EBUSY', request: 'MTIOCGET' }));
    expect(kernel.inFlight).toBe('MTREW');
    kernel.finishNow();
    await Promise.all([rewind, after]);
    // The rewind wrote the owed filemark first; FSR 2 then crossed the record and ran into it.
    expect(order).toEqual(['rewind', 'fsr EIO']);
    expect(where(io)).toBe('1/0 eof,online');
  });

  it('writes a filemark before rewinding after a write, and at close after a write', async () => {
    kernel = simKernel();
    let io = openSim(kernel);
    await play(io, [
      ['write', (t) => t.write(text('one')), '0/1 online', '3'],
      ['rewind writes a filemark first', (t) => t.op('REW'), '0/0 bot,online'],
      ['fsf 1 finds it', (t) => t.op('FSF', 1), '1/0 eof,online'],
      ['read at end of data', (t) => readText(t), '1/-1 eod,online', '""'],
      ['write', (t) => t.write(text('two')), '1/-1 online', '3'],
    ]);
    io.close();
    io = openSim(kernel);
    await play(io, [
      ['after close', async () => undefined, '2/0 eof,online'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['eom', (t) => t.op('EOM'), '2/-1 eod,online'],
    ]);
  });
});

describe('st model: fixed-block mode', () => {
  it('moves whole blocks, and a read stopped by a filemark reports it on the next read', async () => {
    kernel = simKernel();
    const io = openSim(kernel);
    await play(io, [
      ['setblk 512', (t) => t.op('SETBLK', 512), '0/0 bot,online'],
      ['block size shows', async (t) => t.status().blockSize, '0/0 bot,online', '512'],
      ['write 2 blocks', (t) => t.write(Buffer.alloc(1024, 7)), '0/2 online', '1024'],
      ['write part of a block', (t) => t.write(Buffer.alloc(100)), '0/2 online', 'EINVAL'],
      ['weof', (t) => t.op('WEOF', 1), '1/0 eof,online'],
      ['write 1 block', (t) => t.write(Buffer.alloc(512, 9)), '1/1 online', '512'],
      ['rewind', (t) => t.op('REW'), '0/0 bot,online'],
      ['read 4 blocks: 2 before the filemark', async (t) => (await t.read(2048)).length, '0/2 online', '1024'],
      ['read reports the filemark', async (t) => (await t.read(2048)).length, '1/0 eof,online', '0'],
      ['read part of a block', (t) => t.read(100), '1/0 eof,online', 'EINVAL'],
      ['read 1 block', async (t) => (await t.read(512)).readUInt8(0), '1/1 online', '9'],
      ['back to variable mode', (t) => t.op('SETBLK', 0), '1/1 online'],
      ['illegal block size', (t) => t.op('SETBLK', 0x900000), '1/1 online', 'EINVAL'],
    ]);
    expect(io.status().blockSize).toBe(0);
  });

  it('reading a record of another size in fixed mode fails with EIO and leaves the tape before it', async () => {
    kernel = simKernel();
    const io = openSim(kernel);
    await io.write(Buffer.alloc(300));
    await io.op('REW');
    await io.op('SETBLK', 512);
    await play(io, [
      ['read 1 block', (t) => t.read(512), '0/0 bot,online', 'EIO'],
      ['tell', (t) => t.position(), '0/0 bot,online', '0'],
    ]);
  });
});

describe('st model: end of medium', () => {
  it('reports EOT past the early warning, then alternates ENOSPC and success, and ENOSPC at the end', async () => {
    kernel = simKernel({ capacityBytes: 10_000, earlyWarningBytes: 2_000 });
    const io = openSim(kernel);
    await play(io, [
      ['write 4000', (t) => t.write(Buffer.alloc(4000)), '0/1 online', '4000'],
      ['write 4000', (t) => t.write(Buffer.alloc(4000)), '0/2 online', '4000'],
      ['write into the early warning', (t) => t.write(Buffer.alloc(1000)), '0/3 eot,online', '1000'],
      ['next write', (t) => t.write(Buffer.alloc(500)), '0/3 eod,online', 'ENOSPC'],
      ['the one after goes on', (t) => t.write(Buffer.alloc(500)), '0/4 eot,online', '500'],
      ['then ENOSPC again', (t) => t.write(Buffer.alloc(100)), '0/4 eod,online', 'ENOSPC'],
      ['a read there counts as one of the zeros at end of data', async (t) => (await t.read(100)).length, '0/4 eod,online', '0'],
      ['past the physical end', (t) => t.write(Buffer.alloc(1000)), '0/4 eot,online', 'ENOSPC'],
      ['a filemark still fits', (t) => t.op('WEOF', 1), '1/0 eof,online'],
    ]);
  });
});

describe('st model: write protection and opening', () => {
  it('opens a protected tape only O_NONBLOCK for writing, and refuses writes with EACCES', async () => {
    kernel = simKernel({ writeProtected: true });
    const { O } = await import('../../../src/kernel/kernel.js');
    expect(() => kernel?.open('/dev/nst0', O.RDWR)).toThrow(expect.objectContaining({ code: 'EROFS', syscall: 'open' }));
    const ro = kernel.open('/dev/nst0', O.RDONLY);
    ro.close();
    const io = openSim(kernel);
    await play(io, [
      ['status', async () => undefined, '0/0 bot,writeProtected,online'],
      ['write', (t) => t.write(text('x')), '0/0 bot,writeProtected,online', 'EACCES'],
      ['weof', (t) => t.op('WEOF', 1), '0/0 bot,writeProtected,online', 'EACCES'],
      ['erase', (t) => t.op('ERASE', 1), '0/0 bot,writeProtected,online', 'EACCES'],
      ['rewind is fine', (t) => t.op('REW'), '0/0 bot,writeProtected,online'],
    ]);
  });

  it('refuses a second open with EBUSY, and an unknown node with ENOENT', async () => {
    kernel = simKernel();
    const io = openSim(kernel);
    expect(() => openSim(kernel as SimTapeKernel)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(() => openSim(kernel as SimTapeKernel, '/dev/nst1')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    io.close();
    openSim(kernel).close();
  });

  it('a blocking open with no tape fails with ENOMEDIUM; O_NONBLOCK opens and reports the open door', async () => {
    kernel = simKernel({ loaded: false });
    const { O } = await import('../../../src/kernel/kernel.js');
    expect(() => kernel?.open('/dev/nst0', O.RDWR)).toThrow(expect.objectContaining({ code: 'ENOMEDIUM' }));
    const io = openSim(kernel);
    expect(where(io)).toBe('-1/-1 doorOpen');
    await io.op('LOAD');
    expect(where(io)).toBe('0/0 bot,online');
  });

  it('the rewinding node rewinds at close', async () => {
    kernel = simKernel();
    const io = openSim(kernel, '/dev/st0');
    await io.write(text('data'));
    io.close();
    const again = openSim(kernel);
    expect(where(again)).toBe('0/0 bot,online');
    expect(await again.position()).toBe(0);
    await again.op('FSF', 1);
    expect(where(again)).toBe('1/0 eof,online');
  });
});
