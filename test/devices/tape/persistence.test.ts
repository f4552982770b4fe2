/**
 * The tape image survives restarts and kills: a process SIGKILLed while
 * writing leaves an image that opens, holds every record that was written
 * whole, and ends the file with the filemark the kernel's close would have
 * written; torn or corrupt tails are cut off; compaction keeps the data.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSim, simKernel, tempDir, where } from './sim-helpers.js';

const DIST_KERNEL = fileURLToPath(new URL('../../../dist/devices/tape/sim/kernel.js', import.meta.url));
const DIST_ARCH = fileURLToPath(new URL('../../../dist/kernel/arch.js', import.meta.url));
const DIST_IO = fileURLToPath(new URL('../../../dist/devices/tape/tape-io.js', import.meta.url));

/** Record i is 1000 + i bytes of (i & 0xff): any torn or mixed-up record shows. */
const record = (i: number): Buffer => Buffer.alloc(1000 + i, i & 0xff);

const WRITER = `
const { SimTapeKernel } = await import(process.env.K);
const { hostArch } = await import(process.env.A);
const { TapeIo } = await import(process.env.I);
const dir = process.env.DIR;
const k = new SimTapeKernel({
  devicePath: '/dev/nst0', imageFile: dir + '/tape.journal', capacityBytes: 1 << 30, earlyWarningBytes: 1 << 20,
  minBlock: 1, maxBlock: 0x800000, density: 0x58, writeProtected: false, loaded: true, arch: hostArch(),
  timing: { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1e12 },
});
const io = TapeIo.open(k, '/dev/nst0');
for (let i = 0; ; i++) {
  await io.write(Buffer.alloc(1000 + i, i & 0xff));
  if (i === 200) process.stdout.write('ready\\n');
}
`;

describe('tape image persistence', () => {
  it('a writer killed with SIGKILL leaves a consistent tape, closed with a filemark', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
      env: { ...process.env, K: DIST_KERNEL, A: DIST_ARCH, I: DIST_IO, DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    const k = simKernel({ dir });
    try {
      expect(k.model.recovered).toMatch(/filemark/);
      const io = openSim(k);
      const endedAt = io.status();
      expect(endedAt).toMatchObject({ fileNumber: 1, blockNumber: 0, eof: true });
      await io.op('REW');
      let n = 0;
      for (;;) {
        const got = await io.read(1 << 20);
        if (got.length === 0) break;
        expect(got.equals(record(n)), `record ${n}`).toBe(true);
        n++;
      }
      expect(n).toBeGreaterThan(200);
      expect(where(io)).toBe('1/0 eof,online');
    } finally {
      k.dispose();
    }
  });

  it('a kill between a record reaching the tape and its bookkeeping keeps the record', async () => {
    const dir = tempDir();
    let k = simKernel({ dir });
    const io = openSim(k);
    await io.write(record(1));
    // The record frame is in the journal, the state frame after it never was: the process died in between.
    k.model.medium.write(k.model.drive.s.pos, { records: [record(2)] });
    k.model.medium.close();
    k = simKernel({ dir });
    try {
      expect(k.model.recovered).toMatch(/filemark/);
      const again = openSim(k);
      expect(where(again)).toBe('1/0 eof,online');
      await again.op('REW');
      expect((await again.read(1 << 20)).equals(record(1))).toBe(true);
      expect((await again.read(1 << 20)).equals(record(2))).toBe(true);
      expect((await again.read(1 << 20)).length).toBe(0);
    } finally {
      k.dispose();
    }
  });

  it('cuts off a torn or corrupt last frame and keeps everything before it', async () => {
    const dir = tempDir();
    let k = simKernel({ dir });
    let io = openSim(k);
    await io.write(record(1));
    await io.write(record(2));
    io.close();
    k.dispose();
    const file = path.join(dir, 'tape.journal');
    const whole = fs.readFileSync(file);
    // A frame header promising more than is there: a write cut short by a crash.
    fs.appendFileSync(file, Buffer.from([0xd2, 1, 0x10, 0x27, 0, 0, 1, 2, 3, 4, 9, 9, 9]));
    k = simKernel({ dir });
    expect(k.model.medium.repairedBytes).toBe(13);
    io = openSim(k);
    expect(where(io)).toBe('1/0 eof,online');
    await io.op('REW');
    expect((await io.read(1 << 20)).equals(record(1))).toBe(true);
    io.close();
    k.dispose();
    expect(fs.readFileSync(file).subarray(0, whole.length).equals(whole)).toBe(true);

    // Flip a byte inside the last frame: its CRC no longer matches, so it is dropped.
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    k = simKernel({ dir });
    expect(k.model.medium.repairedBytes).toBeGreaterThan(0);
    io = openSim(k);
    await io.op('REW');
    expect((await io.read(1 << 20)).equals(record(1))).toBe(true);
    expect((await io.read(1 << 20)).equals(record(2))).toBe(true);
    k.dispose();
  });

  it('compacts an image full of overwritten data without losing what is live', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'tape.journal');
    let k = simKernel({ dir });
    let io = openSim(k);
    await io.write(record(7));
    await io.op('WEOF', 1);
    for (let i = 0; i < 40; i++) {
      // Rewriting the second file over and over leaves the old copies dead in the journal.
      await io.write(Buffer.alloc(100_000, i));
      await io.op('BSF', 1);
      await io.op('FSF', 1);
    }
    expect(fs.statSync(file).size).toBeLessThan(3_000_000);
    io.close();
    k.dispose();
    k = simKernel({ dir });
    io = openSim(k);
    await io.op('REW');
    expect((await io.read(1 << 20)).equals(record(7))).toBe(true);
    expect((await io.read(1 << 20)).length).toBe(0);
    expect((await io.read(1 << 20)).equals(Buffer.alloc(100_000, 39))).toBe(true);
    k.dispose();
  });
});
