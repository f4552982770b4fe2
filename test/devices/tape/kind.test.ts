/**
 * The tape kind's commands on the st model (sim: true), as the dispatcher
 * runs them: argument schemas, results, error bodies, state and events.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { toErrorBody } from '../../../src/devices/errors.js';
import { tapeKind } from '../../../src/devices/tape/kind.js';
import type { TapeDevice } from '../../../src/devices/tape/device.js';
import type { SimTapeKernel } from '../../../src/devices/tape/sim/kernel.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';
import { simKernel, tempDir } from './sim-helpers.js';

const FAST = { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1e12 };
const open: TestDevice<TapeDevice>[] = [];

async function tape(
  o: { sim?: Record<string, unknown>; options?: Record<string, unknown>; stateDir?: string } = {},
): Promise<TestDevice<TapeDevice>> {
  const t = await makeTestDevice(tapeKind, {
    sim: true,
    stateDir: o.stateDir,
    options: { pollMs: 0, ...o.options, sim: { ...o.sim, timing: { ...FAST, ...(o.sim?.timing as object | undefined) } } },
  });
  await t.device.open();
  open.push(t);
  return t;
}

const simOf = (t: TestDevice<TapeDevice>): SimTapeKernel => t.ctx.kernel as SimTapeKernel;

async function errorOf(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return { ...toErrorBody(e) };
  }
  throw new Error('expected the command to fail');
}

afterEach(async () => {
  for (const t of open.splice(0)) {
    simOf(t).finishNow();
    await t.device.close();
    simOf(t).dispose();
  }
});

describe('tape kind: status', () => {
  it('decodes MTIOCGET like mt status', async () => {
    const t = await tape();
    expect(await t.run('status')).toMatchObject({
      driveType: 'SCSI-2',
      density: 0x58,
      densityName: 'LTO-5',
      blockSize: 0,
      fileNumber: 0,
      blockNumber: 0,
      partition: 0,
      bot: true,
      eof: false,
      eot: false,
      eod: false,
      sm: false,
      writeProtected: false,
      online: true,
      doorOpen: false,
      immReport: true,
      cleaningRequested: false,
      erreg: 0,
      softErrors: 0,
    });
    expect(t.device.state()).toMatchObject({ online: true, bot: true, fileNumber: 0, blockNumber: 0, busy: null, driveType: 'SCSI-2' });
  });

  it("lays the structs out for the kernel's architecture: a 32-bit ARM kernel gets its 28-byte mtget", async () => {
    const { archByName } = await import('../../../src/kernel/arch.js');
    const kernel = simKernel({ arch: archByName('armhf') });
    const t = await makeTestDevice(tapeKind, { sim: false, options: { path: '/dev/nst0', pollMs: 0 }, kernel });
    await t.device.open();
    try {
      await t.run('write', { data: 'arm' });
      // A request sized for this x86_64/aarch64 process would be EINVAL in a 32-bit st.
      expect(await t.run('weof', { count: 2 })).toMatchObject({ fileNumber: 2, blockNumber: 0, eof: true, density: 0x58 });
      expect(await t.run('tell')).toMatchObject({ block: 3 });
    } finally {
      await t.device.close();
      kernel.dispose();
    }
  });

  it('requireOnline and requireWritable refuse with device_error and say why', async () => {
    const t = await tape();
    await t.run('unload');
    const offline = await errorOf(t.run('status', { requireOnline: true }));
    expect(offline).toMatchObject({ code: 'device_error', reason: 'offline', message: expect.stringMatching(/no tape loaded/) });

    const wp = await tape({ sim: { writeProtected: true } });
    expect(await wp.run('status', { requireOnline: true })).toMatchObject({ online: true, writeProtected: true });
    const prot = await errorOf(wp.run('status', { requireOnline: true, requireWritable: true }));
    expect(prot).toMatchObject({ code: 'device_error', reason: 'write_protected', message: expect.stringMatching(/write-protected/) });
    const write = await errorOf(wp.run('write', { data: 'x' }));
    expect(write).toMatchObject({ code: 'device_error', errno: 'EACCES', path: '/dev/nst0' });
  });
});

describe("tape kind: the talk's procedure and the data commands", () => {
  it('status, rewind, write, weof, unload; then load and read it back', async () => {
    const t = await tape();
    await t.run('status', { requireOnline: true, requireWritable: true });
    expect(await t.run('rewind')).toMatchObject({ bot: true });
    expect(await t.run('write', { data: 'hello tape' })).toMatchObject({ bytes: 10, records: 1, fileNumber: 0, blockNumber: 1 });
    expect(await t.run('weof')).toMatchObject({ fileNumber: 1, blockNumber: 0, eof: true });
    expect(await t.run('unload')).toMatchObject({ doorOpen: true, online: false, alreadyUnloaded: false });
    expect(await t.run('load')).toMatchObject({ online: true, bot: true, alreadyLoaded: false });
    expect(await t.run('read', { encoding: 'utf8' })).toMatchObject({
      data: 'hello tape',
      bytes: 10,
      filemark: false,
      fileNumber: 0,
      blockNumber: 1,
    });
    expect(await t.run('read')).toMatchObject({ data: '', bytes: 0, filemark: true, fileNumber: 1, blockNumber: 0 });
    expect(await t.run('read')).toMatchObject({ bytes: 0, eod: true });
    expect(await errorOf(t.run('read'))).toMatchObject({ code: 'device_error', errno: 'EIO', syscall: 'read' });
  });

  it('writes hex and base64 payloads and reads them back in any encoding', async () => {
    const t = await tape();
    await t.run('write', { data: 'deadbeef', encoding: 'hex' });
    await t.run('write', { data: Buffer.from('zap').toString('base64'), encoding: 'base64' });
    await t.run('rewind');
    expect(await t.run('read', { encoding: 'hex' })).toMatchObject({ data: 'deadbeef' });
    expect(await t.run('read', { encoding: 'utf8' })).toMatchObject({ data: 'zap' });
    expect(await errorOf(t.run('write', { data: 'xyz', encoding: 'hex' }))).toMatchObject({ code: 'bad_args' });
  });

  it('fixed-block mode splits into blockSize records and pads the last', async () => {
    const t = await tape();
    expect(await t.run('setblk', { size: 512 })).toMatchObject({ blockSize: 512 });
    expect(await t.run('write', { data: 'x'.repeat(1000) })).toMatchObject({ bytes: 1024, records: 2, paddedBytes: 24, blockNumber: 2 });
    expect(await errorOf(t.run('write', { data: 'x'.repeat(1000), pad: false }))).toMatchObject({ code: 'bad_args' });
    await t.run('rewind');
    expect(await errorOf(t.run('read', { maxBytes: 100 }))).toMatchObject({ code: 'bad_args' });
    const r = (await t.run('read', { maxBytes: 700, encoding: 'utf8' })) as { data: string; bytes: number; blockNumber: number };
    expect([r.bytes, r.data, r.blockNumber]).toEqual([512, 'x'.repeat(512), 1]);
  });

  it('a record longer than maxBytes fails with ENOMEM and says how to recover it', async () => {
    const t = await tape();
    await t.run('write', { data: 'a longer record' });
    await t.run('rewind');
    const e = await errorOf(t.run('read', { maxBytes: 4 }));
    expect(e).toMatchObject({ code: 'device_error', errno: 'ENOMEM', message: expect.stringMatching(/bsr 1/) });
    await t.run('bsr', { count: 1 });
    expect(await t.run('read', { encoding: 'utf8' })).toMatchObject({ data: 'a longer record' });
  });

  it('unload, load and rewind are idempotent', async () => {
    const t = await tape();
    expect(await t.run('rewind')).toMatchObject({ bot: true });
    expect(await t.run('rewind')).toMatchObject({ bot: true });
    expect(await t.run('load')).toMatchObject({ online: true, alreadyLoaded: true });
    expect(await t.run('unload')).toMatchObject({ alreadyUnloaded: false, doorOpen: true });
    expect(await t.run('unload')).toMatchObject({ alreadyUnloaded: true, doorOpen: true });
    expect(await errorOf(t.run('rewind'))).toMatchObject({ code: 'device_error', errno: 'ENOMEDIUM', request: 'MTIOCTOP' });
    expect(await t.run('load')).toMatchObject({ alreadyLoaded: false, online: true });
  });

  it('seek and tell use logical blocks; positioning commands return the status', async () => {
    const t = await tape();
    for (const d of ['a', 'b', 'c']) await t.run('write', { data: d });
    await t.run('weof', { count: 1 });
    await t.run('write', { data: 'd' });
    expect(await t.run('tell')).toMatchObject({ block: 5 });
    expect(await t.run('seek', { block: 4 })).toMatchObject({ fileNumber: -1, blockNumber: -1 });
    expect(await t.run('read', { encoding: 'utf8' })).toMatchObject({ data: 'd' });
    expect(await t.run('bsf', { count: 1 })).toMatchObject({ fileNumber: -1 });
    expect(await t.run('rewind')).toMatchObject({ fileNumber: 0, blockNumber: 0 });
    expect(await t.run('fsf', { count: 1 })).toMatchObject({ fileNumber: 1, blockNumber: 0, eof: true });
    // Seeking right after the write of 'd' ended that file with a filemark first, as st does.
    expect(await t.run('eom')).toMatchObject({ fileNumber: 2, eod: true });
    expect(await t.run('lock')).toMatchObject({ online: true });
    expect(await t.run('unlock')).toMatchObject({ online: true });
    expect(await t.run('setdensity', { code: 0x5a })).toMatchObject({ density: 0x5a, densityName: 'LTO-6' });
  });
});

describe('tape kind: files', () => {
  it('writeFile and readFile move a file through the tape, with progress events', async () => {
    const files = tempDir();
    const t = await tape({ options: { filesDir: files, recordBytes: 65536 }, sim: { timing: { bytesPerS: 8 * 1024 * 1024 } } });
    const data = randomBytes(3 * 1024 * 1024 + 17);
    fs.writeFileSync(path.join(files, 'in.bin'), data);
    const w = (await t.run('writeFile', { name: 'in.bin', weof: true })) as Record<string, unknown>;
    expect(w).toMatchObject({ bytes: data.length, records: 49, filemark: true, fileNumber: 1, blockNumber: 0 });
    await t.run('rewind');
    const r = (await t.run('readFile', { name: 'out/copy.bin' })) as Record<string, unknown>;
    expect(r).toMatchObject({ bytes: data.length, records: 49, fileNumber: 1, blockNumber: 0 });
    expect(fs.readFileSync(path.join(files, 'out/copy.bin')).equals(data)).toBe(true);

    const progress = t.recorded.events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(Object.keys(p).sort()).toEqual(['bytes', 'rateBytesPerS', 'total', 'ts', 'type']);
    const writes = progress.filter((p) => p.total === data.length);
    const reads = progress.filter((p) => p.total === null);
    expect(writes.length + reads.length).toBe(progress.length);
    for (const list of [writes, reads]) {
      const bytes = list.map((p) => p.bytes as number);
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
      for (const b of bytes) expect(b).toBeLessThanOrEqual(data.length);
    }
  });

  it('a file that does not fit stops at the end of the medium and says how much is on tape', async () => {
    const files = tempDir();
    const t = await tape({ options: { filesDir: files, recordBytes: 10_000 }, sim: { capacityBytes: 100_000, earlyWarningBytes: 20_000 } });
    fs.writeFileSync(path.join(files, 'big'), Buffer.alloc(200_000, 3));
    const e = await errorOf(t.run('writeFile', { name: 'big' }));
    // Nine records reach the early warning (the ninth reports EOT); st refuses the tenth with ENOSPC.
    expect(e).toMatchObject({ code: 'device_error', errno: 'ENOSPC', bytesWritten: 90_000, message: expect.stringMatching(/weof/) });
    expect(await t.run('weof')).toMatchObject({ fileNumber: 1, blockNumber: 0 });
  });

  it('a simulated drive without filesDir has its own files folder with a sample to write', async () => {
    const t = await tape();
    expect(fs.statSync(path.join(t.ctx.stateDir, 'files', 'sample.bin')).size).toBe(8 * 1024 * 1024);
    expect(await t.run('writeFile', { name: 'sample.bin' })).toMatchObject({ bytes: 8 * 1024 * 1024, records: 128 });
  });

  it('in fixed-block mode a file becomes blocks, the last one padded', async () => {
    const files = tempDir();
    const t = await tape({ options: { filesDir: files } });
    fs.writeFileSync(path.join(files, 'small'), 'abc');
    await t.run('setblk', { size: 1024 });
    expect(await t.run('writeFile', { name: 'small' })).toMatchObject({ bytes: 3, records: 1, paddedBytes: 1021 });
  });

  it('names that leave filesDir are forbidden; existing files need overwrite', async () => {
    const root = tempDir();
    const files = path.join(root, 'files');
    fs.mkdirSync(files);
    fs.writeFileSync(path.join(root, 'secret'), 'outside');
    fs.symlinkSync(root, path.join(files, 'up'));
    fs.symlinkSync(path.join(root, 'secret'), path.join(files, 'link'));
    fs.writeFileSync(path.join(files, 'here'), 'in');
    fs.linkSync(path.join(root, 'secret'), path.join(files, 'hard'));
    const t = await tape({ options: { filesDir: files } });
    await t.run('write', { data: 'x' });
    await t.run('weof');
    await t.run('rewind');
    for (const name of ['../secret', '/etc/passwd', 'up/secret', 'link', 'a/../../secret']) {
      expect(await errorOf(t.run('writeFile', { name })), name).toMatchObject({ code: 'forbidden' });
      expect(await errorOf(t.run('readFile', { name, overwrite: true })), name).toMatchObject({ code: 'forbidden' });
    }
    expect(await errorOf(t.run('readFile', { name: 'hard', overwrite: true }))).toMatchObject({ code: 'forbidden' });
    expect(await errorOf(t.run('readFile', { name: 'here' }))).toMatchObject({
      code: 'bad_args',
      message: expect.stringMatching(/overwrite/),
    });
    expect(await errorOf(t.run('writeFile', { name: 'missing' }))).toMatchObject({ code: 'bad_args' });
    expect(fs.readFileSync(path.join(root, 'secret'), 'utf8')).toBe('outside');
    expect(await t.run('readFile', { name: 'here', overwrite: true })).toMatchObject({ bytes: 1 });
  });

  it('without filesDir on a real drive, file commands are forbidden', async () => {
    const kernel = simKernel();
    const t = await makeTestDevice(tapeKind, { sim: false, options: { path: '/dev/nst0', pollMs: 0 }, kernel });
    await t.device.open();
    expect(await errorOf(t.run('writeFile', { name: 'x' }))).toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/filesDir/),
    });
    await t.device.close();
    kernel.dispose();
  });
});

describe('tape kind: busy, long operations and faults', () => {
  it('a 30 s rewind runs off the event loop and shows busy in the state while it lasts', async () => {
    const t = await tape({ sim: { timing: { rewindMs: 30_000 } } });
    await t.run('write', { data: 'x' });
    const order: string[] = [];
    const rewind = t.run('rewind').then(() => order.push('rewind'));
    await new Promise<void>((r) => setTimeout(r, 20));
    order.push('timer');
    expect(t.device.state().busy).toMatchObject({ command: 'rewind', sinceMs: expect.any(Number) });
    expect(t.device.state()).toMatchObject({ bot: false, blockNumber: 1 });
    expect(simOf(t).inFlight).toBe('MTREW');
    // What the agent's stop does: the drive completes the rewind without its remaining time.
    simOf(t).finishNow();
    await rewind;
    expect(order).toEqual(['timer', 'rewind']);
    expect(t.device.state()).toMatchObject({ busy: null, bot: true });
  });

  it('an injected fault fails the command with its errno, once', async () => {
    const t = await tape();
    simOf(t).faults.add({ on: 'MTREW', errno: 'EIO', times: 1 });
    expect(await errorOf(t.run('rewind'))).toMatchObject({ code: 'device_error', errno: 'EIO', request: 'MTIOCTOP', path: '/dev/nst0' });
    expect(await t.run('rewind')).toMatchObject({ bot: true });
    fs.writeFileSync(
      path.join(t.ctx.stateDir, 'faults.json'),
      JSON.stringify([
        { on: 'write', errno: 'EIO' },
        { on: 'MTIOCGET', recovered: true },
      ]),
    );
    expect(await errorOf(t.run('write', { data: 'x' }))).toMatchObject({ errno: 'EIO', syscall: 'write' });
    expect(await t.run('status')).toMatchObject({ softErrors: 1 });
  });

  it("an error st defers to the status read after an operation is that operation's error; the drive stays usable", async () => {
    const t = await tape();
    simOf(t).faults.add({ on: 'MTIOCGET', errno: 'EIO', times: 1 });
    expect(await errorOf(t.run('weof'))).toMatchObject({ code: 'device_error', errno: 'EIO', request: 'MTIOCGET', path: '/dev/nst0' });
    expect(await t.run('rewind')).toMatchObject({ bot: true });
    expect(t.recorded.lost).toEqual([]);
  });
});

describe('tape kind: persistence and Home Assistant', () => {
  it('a restart finds the tape where it was, with its data', async () => {
    const dir = tempDir();
    const a = await tape({ stateDir: dir });
    await a.run('write', { data: 'kept' });
    await a.run('weof');
    await a.run('write', { data: 'more' });
    await a.device.close();
    simOf(a).dispose();
    open.splice(open.indexOf(a), 1);
    const b = await tape({ stateDir: dir });
    // Closing after a write ended that file with a filemark, as st_flush does.
    expect(await b.run('status')).toMatchObject({ fileNumber: 2, blockNumber: 0, eof: true });
    await b.run('rewind');
    expect(await b.run('read', { encoding: 'utf8' })).toMatchObject({ data: 'kept' });
  });

  it('declares status and position sensors and rewind/unload buttons', () => {
    const topics = { state: 's', event: 'e', availability: 'a', command: (n: string) => `cmd/${n}` };
    const ents = tapeKind.homeassistant?.({ id: 'tape0', name: 'tape0', options: {} as never, sim: true, topics }) ?? [];
    expect(ents.map((e) => `${e.component}:${e.part}`)).toEqual(['sensor:status', 'sensor:position', 'button:rewind', 'button:unload']);
    expect(ents.find((e) => e.part === 'rewind')?.config).toMatchObject({ command_topic: 'cmd/rewind' });
    expect(ents.find((e) => e.part === 'unload')?.config).toMatchObject({ command_topic: 'cmd/unload' });
  });
});
