/**
 * The mtio conformance suite: one set of checks of what the st driver does
 * with MTIOCTOP, MTIOCGET, MTIOCPOS, read and write, run against the st
 * model always, and against a real drive when DEV2MQTT_TEST_TAPE names its
 * non-rewinding node (e.g. /dev/nst0). On a real drive the suite OVERWRITES
 * the cartridge: load a scratch tape. It leaves the drive in variable-block
 * mode, rewound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archByName, hostArch } from '../../../src/kernel/arch.js';
import { isKernelError } from '../../../src/kernel/errors.js';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { catalogue } from '../../../src/kernel/requests.js';
import { TapeIo } from '../../../src/devices/tape/tape-io.js';
import type { SimTapeKernel } from '../../../src/devices/tape/sim/kernel.js';
import { openSim, simKernel, where } from './sim-helpers.js';
import { noteSkip } from '../../helpers/tools.js';

interface Target {
  readonly name: string;
  /** Real drives take minutes per operation. */
  readonly timeoutMs: number;
  open(): TapeIo;
  dispose(): void;
}

const rec = (i: number, len = 100 + i): Buffer => Buffer.alloc(len, 0x41 + i);

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
}

function conformance(target: Target): void {
  describe(`mtio conformance: ${target.name}`, () => {
    let io: TapeIo;
    beforeAll(async () => {
      io = target.open();
      const st = io.status();
      if (!st.online) throw new Error(`${target.name}: no tape online (load a scratch cartridge)`);
      if (st.writeProtected) throw new Error(`${target.name}: the tape is write-protected (the suite writes)`);
      await io.op('SETBLK', 0);
      await io.op('REW');
    }, target.timeoutMs);
    afterAll(async () => {
      try {
        await io?.op('SETBLK', 0);
        await io?.op('REW');
      } finally {
        io?.close();
        target.dispose();
      }
    }, target.timeoutMs);

    it("MTIOCGET answers in this architecture's struct mtget, and refuses another size with EINVAL", () => {
      expect(where(io)).toBe('0/0 bot,online');
      expect(io.status().driveType).toMatch(/^SCSI-[12]$/);
      const other = hostArch().longSize === 8 ? archByName('armhf') : archByName('x86_64');
      const wrong = catalogue(other).get('MTIOCGET');
      expect(() => io.file.ioctl(wrong, Buffer.alloc(64))).toThrow(expect.objectContaining({ code: 'EINVAL', request: 'MTIOCGET' }));
    });

    it(
      'writing records and filemarks counts blocks and files',
      async () => {
        const seen: string[] = [];
        for (const i of [0, 1, 2]) {
          expect(await io.write(rec(i))).toBe(rec(i).length);
          seen.push(where(io));
        }
        await io.op('WEOF', 1);
        seen.push(where(io));
        await io.write(rec(3));
        seen.push(where(io));
        await io.op('WEOF', 1);
        seen.push(where(io));
        expect(seen).toEqual(['0/1 online', '0/2 online', '0/3 online', '1/0 eof,online', '1/1 online', '2/0 eof,online']);
      },
      target.timeoutMs,
    );

    it(
      'reading returns each record, 0 at a filemark, 0 at end of data, then EIO',
      async () => {
        await io.op('REW');
        expect(await io.position()).toBe(0);
        for (const i of [0, 1, 2]) expect((await io.read(65536)).equals(rec(i))).toBe(true);
        expect((await io.read(65536)).length).toBe(0);
        expect(where(io)).toBe('1/0 eof,online');
        expect((await io.read(65536)).equals(rec(3))).toBe(true);
        expect((await io.read(65536)).length).toBe(0);
        expect(where(io)).toBe('2/0 eof,online');
        expect((await io.read(65536)).length).toBe(0);
        expect(io.status()).toMatchObject({ eod: true, fileNumber: 2 });
        expect(await errnoOf(io.read(65536))).toBe('EIO');
      },
      target.timeoutMs,
    );

    it(
      'spacing: fsf, bsf, fsr, bsr, eom; MTIOCPOS counts records and filemarks',
      async () => {
        await io.op('REW');
        const seen: string[] = [];
        const step = async (name: 'FSF' | 'BSF' | 'FSR' | 'BSR' | 'EOM', n = 1): Promise<void> => {
          const r = await errnoOf(io.op(name, n));
          seen.push(`${name} ${n}: ${r} ${where(io)}`);
        };
        await step('FSF', 1);
        expect(await io.position()).toBe(4);
        await step('FSR', 1);
        await step('BSR', 1);
        await step('BSF', 1);
        await step('FSR', 1);
        await step('FSR', 5);
        await step('EOM');
        expect(seen).toEqual([
          'FSF 1: ok 1/0 eof,online',
          'FSR 1: ok 1/1 online',
          'BSR 1: ok 1/0 eof,online',
          'BSF 1: ok 0/-1 online',
          'FSR 1: EIO 1/0 eof,online',
          'FSR 5: EIO 2/0 eof,online',
          'EOM 1: ok 2/-1 eod,online',
        ]);
        expect(await io.position()).toBe(6);
      },
      target.timeoutMs,
    );

    it(
      'a read shorter than the record fails with ENOMEM and moves past the record',
      async () => {
        await io.op('REW');
        expect(await errnoOf(io.read(10))).toBe('ENOMEM');
        expect(where(io)).toBe('0/1 online');
        expect((await io.read(65536)).equals(rec(1))).toBe(true);
      },
      target.timeoutMs,
    );

    it(
      'fixed-block mode writes and reads whole blocks only',
      async () => {
        await io.op('REW');
        await io.op('SETBLK', 512);
        expect(io.status().blockSize).toBe(512);
        expect(await io.write(Buffer.alloc(1024, 1))).toBe(1024);
        expect(where(io)).toBe('0/2 online');
        expect(await errnoOf(io.write(Buffer.alloc(100)))).toBe('EINVAL');
        await io.op('WEOF', 1);
        await io.op('REW');
        expect((await io.read(1024)).length).toBe(1024);
        expect(where(io)).toBe('0/2 online');
        await io.op('SETBLK', 0);
        expect(io.status().blockSize).toBe(0);
      },
      target.timeoutMs,
    );
  });
}

conformance({
  name: 'st model',
  timeoutMs: 30_000,
  ...(() => {
    let k: SimTapeKernel | undefined;
    return {
      open: () => openSim((k = simKernel())),
      dispose: () => k?.dispose(),
    };
  })(),
});

const realDrive = process.env.DEV2MQTT_TEST_TAPE;
if (realDrive) {
  conformance({
    name: `real drive ${realDrive}`,
    timeoutMs: 30 * 60_000,
    open: () => TapeIo.open(new LibcKernel(), realDrive),
    dispose: () => undefined,
  });
} else {
  noteSkip('mtio conformance on a real drive', 'DEV2MQTT_TEST_TAPE not set: the suite needs a tape drive with a scratch cartridge');
  describe('mtio conformance: real drive', () => {
    it.skip('set DEV2MQTT_TEST_TAPE=/dev/nstN (scratch cartridge loaded) to run this suite against a real drive', () => undefined);
  });
}
