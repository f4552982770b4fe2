/**
 * `sim: true`: a real pty driven by the modem model, with the modem lines
 * modelled in the sim layer. Lines, RING events, calls, polls, and hot-unplug
 * (the master closed and a new pty put behind the same symlink).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alloc, intArg } from '../../../src/kernel/codec.js';
import { KernelError } from '../../../src/kernel/errors.js';
import { O } from '../../../src/kernel/kernel.js';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { openPty } from '../../../src/kernel/pty.js';
import { catalogue } from '../../../src/kernel/requests.js';
import { serial_icounter_struct } from '../../../src/kernel/structs.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import type { SerialDevice } from '../../../src/devices/serial/device.js';
import { SerialSimKernel } from '../../../src/devices/serial/sim/kernel.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Sim {
  t: TestDevice<SerialDevice>;
  kernel: SerialSimKernel;
}

async function sim(options: Record<string, unknown> = {}, open = true): Promise<Sim> {
  const t = await makeTestDevice(serialKind, { sim: true, options });
  cleanup.push(() => t.abort.abort());
  cleanup.push(() => t.device.close());
  if (!(t.ctx.kernel instanceof SerialSimKernel)) throw new Error('expected the sim kernel');
  if (open) await t.device.open();
  return { t, kernel: t.ctx.kernel };
}

async function until<T>(get: () => T | undefined): Promise<T> {
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const eventsOf = (t: TestDevice<SerialDevice>, type: string) => t.recorded.events.filter((e) => e.type === type);

describe('sim modem: AT', () => {
  it('answers AT, ATI, AT+CGMI and AT+CSQ, with and without echo', async () => {
    const { t } = await sim();
    expect(await t.run('at', { command: 'AT' })).toEqual({ final: 'OK', lines: [] });
    expect(await t.run('at', { command: 'ATI' })).toEqual({ final: 'OK', lines: ['dev2mqtt SIM-MODEM-1', 'Revision: 1.0.0'] });
    expect(await t.run('at', { command: 'AT+CGMI' })).toEqual({ final: 'OK', lines: ['dev2mqtt'] });
    const rxBefore = t.device.state().rxBytes as number;
    expect(await t.run('at', { command: 'ATE0' })).toEqual({ final: 'OK', lines: [] });
    const rxEcho = t.device.state().rxBytes as number;
    expect(await t.run('at', { command: 'AT+CSQ' })).toEqual({ final: 'OK', lines: ['+CSQ: 21,99'] });
    // Without echo only the answer comes back: "\r\n+CSQ: 21,99\r\n\r\nOK\r\n".
    expect((t.device.state().rxBytes as number) - rxEcho).toBe(21);
    expect(rxEcho - rxBefore).toBe('ATE0\r'.length + '\r\nOK\r\n'.length);
    await t.run('at', { command: 'ATE1' });
  });

  it('an unknown command is ERROR, or +CME ERROR after AT+CMEE=1', async () => {
    const { t } = await sim();
    const fail = (c: string) =>
      t.run('at', { command: c }).then(
        () => undefined,
        (e: unknown) => toErrorBody(e),
      );
    expect(await fail('AT+NOPE')).toMatchObject({ code: 'device_error', final: 'ERROR' });
    await t.run('at', { command: 'AT+CMEE=1' });
    expect(await fail('AT+NOPE')).toMatchObject({ code: 'device_error', final: '+CME ERROR: 4', cme: 4 });
  });

  it('a state poll of AT+CSQ fills `signal` through the device queue', async () => {
    const { t } = await sim({ polls: [{ command: 'AT+CSQ', everyMs: 60_000 }] });
    const signal = await until(() => t.device.state().signal ?? undefined);
    expect(signal).toEqual({ rssi: 21, ber: null, dbm: -71, percent: 68 });
    expect(t.device.state().polls).toMatchObject({ 'AT+CSQ': { final: 'OK', lines: ['+CSQ: 21,99'] } });
  });
});

describe('sim modem: lines', () => {
  it('opening raises DTR and RTS; setLines drops and raises them', async () => {
    const { t } = await sim();
    expect(await t.run('lines')).toEqual({ dtr: true, rts: true, cts: true, dsr: true, cd: false, ri: false });
    expect(await t.run('setLines', { dtr: false })).toMatchObject({ dtr: false, rts: true });
    expect(await t.run('setLines', { rts: false, dtr: true })).toMatchObject({ dtr: true, rts: false });
    expect(t.device.state().lines).toMatchObject({ dtr: true, rts: false });
  });

  it("RING arrives as a urc event and RI's trailing edge as a lines event with the rng counter", async () => {
    const { t, kernel } = await sim();
    kernel.modem.ring();
    const lines = await until(() => eventsOf(t, 'lines')[0]);
    const urc = await until(() => eventsOf(t, 'urc')[0]);
    expect(urc).toMatchObject({ type: 'urc', line: 'RING', code: 'RING' });
    expect(lines).toMatchObject({ type: 'lines', changed: ['ri'], lines: { ri: false }, counters: { rng: 1 } });
    kernel.modem.ring();
    await until(() => (eventsOf(t, 'lines').length === 2 ? true : undefined));
    expect(eventsOf(t, 'lines')[1]).toMatchObject({ changed: ['ri'], counters: { rng: 2 } });
  });

  it('with +CLIP on, the caller follows RING; ATA answers and CD comes up; dropping DTR ends the call', async () => {
    const { t, kernel } = await sim();
    await t.run('at', { command: 'AT+CLIP=1' });
    kernel.modem.ring('+4930123456');
    await until(() => eventsOf(t, 'urc').find((e) => e.code === '+CLIP'));
    expect(eventsOf(t, 'urc').map((e) => e.line)).toEqual(['RING', '+CLIP: "+4930123456",145']);
    await t.run('at', { command: 'ATA' });
    const up = await until(() => eventsOf(t, 'lines').find((e) => (e.changed as string[]).includes('cd')));
    expect(up).toMatchObject({ lines: { cd: true } });
    await t.run('setLines', { dtr: false });
    await until(() => eventsOf(t, 'urc').find((e) => e.line === 'NO CARRIER'));
    await until(() => eventsOf(t, 'lines').filter((e) => (e.changed as string[]).includes('cd')).length === 2 || undefined);
    expect(((await t.run('lines')) as { cd: boolean }).cd).toBe(false);
  });

  it('simRingEveryMs makes the modem ring on its own', async () => {
    const { t } = await sim({ simRingEveryMs: 20 });
    await until(() => (eventsOf(t, 'urc').filter((e) => e.line === 'RING').length >= 2 ? true : undefined));
  });
});

describe('sim modem: hot-unplug', () => {
  it('unplugged: lost with a disconnect error; reopening fails until it is back; then it comes back with its settings', async () => {
    const link = path.join(mkdtempSync(path.join(tmpdir(), 'dev2mqtt-serial-')), 'modem-at');
    const { t, kernel } = await sim({ path: link });
    expect(t.device.path).toBe(link);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    await t.run('configure', { baud: 57600, stopBits: 2 });

    kernel.modem.unplug();
    const lost = await until(() => t.recorded.lost[0]);
    expect(lost).toBeInstanceOf(KernelError);
    expect((lost as KernelError).disconnected).toBe(true);
    expect((lost as KernelError).code).toBe('EIO');
    expect(t.device.state().open).toBe(false);
    expect(
      await t.run('at', { command: 'AT' }).then(
        () => undefined,
        (e: unknown) => toErrorBody(e),
      ),
    ).toMatchObject({ code: 'unavailable' });

    // What the agent does: close, then retry open with backoff.
    await t.device.close();
    const e = await t.device.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(KernelError);
    expect(e).toMatchObject({ code: 'ENOENT', disconnected: true, path: link });

    kernel.modem.plugIn();
    await t.device.open();
    expect(t.device.state()).toMatchObject({ open: true, baud: 57600, stopBits: 2 });
    const stty = spawnSync('stty', ['-F', link, '-a'], { encoding: 'utf8' }).stdout;
    expect(stty).toMatch(/speed 57600 baud/);
    expect(stty).toMatch(/ cstopb /);
    expect(await t.run('at', { command: 'AT' })).toEqual({ final: 'OK', lines: [] });
    // The line watcher runs again on the new port.
    kernel.modem.ring();
    await until(() => eventsOf(t, 'lines')[0]);
  });

  it('a command waiting for its answer when the modem goes fails with EIO', async () => {
    const { t, kernel } = await sim();
    kernel.modem.stall(true);
    const running = t.run('at', { command: 'AT', timeoutMs: 60_000 }).then(
      () => undefined,
      (err: unknown) => toErrorBody(err),
    );
    // The echo shows the command reached the modem before it goes.
    await until(() => ((t.device.state().rxBytes as number) >= 3 ? true : undefined));
    kernel.modem.unplug();
    expect(await running).toMatchObject({ code: 'device_error', errno: 'EIO' });
    expect(t.recorded.lost).toHaveLength(1);
  });

  it('a stalled modem gives `timeout`; once it answers again, the next command gets its own answer', async () => {
    const { t, kernel } = await sim();
    kernel.modem.stall(true);
    const e = await t.run('at', { command: 'AT+CGMI', timeoutMs: 100 }).then(
      () => undefined,
      (err: unknown) => toErrorBody(err),
    );
    expect(e).toMatchObject({ code: 'timeout' });
    kernel.modem.stall(false);
    expect(await t.run('at', { command: 'AT+CSQ' })).toEqual({ final: 'OK', lines: ['+CSQ: 21,99'] });
  });
});

describe('sim kernel: the modelled requests answer like a UART driver', () => {
  it('TIOCMGET without a buffer is EFAULT; TIOCGICOUNT fills the struct; after unplug everything is EIO', async () => {
    const { kernel, t } = await sim({}, false);
    const cat = catalogue(kernel.arch);
    const f = kernel.open(t.device.path, O.RDWR | O.NOCTTY | O.NONBLOCK);
    cleanup.push(() => f.close());
    expect(() => f.ioctl(cat.get('TIOCMGET'))).toThrow(
      expect.objectContaining({ code: 'EFAULT', request: 'TIOCMGET', path: t.device.path }),
    );
    const counters = alloc(serial_icounter_struct, kernel.arch);
    expect(f.ioctl(cat.get('TIOCGICOUNT'), counters)).toBe(0);
    const waiting = f.ioctlBlocking(cat.get('TIOCMIWAIT'), 0xfff).then(
      () => 'woke',
      (e: unknown) => e,
    );
    kernel.modem.unplug();
    expect(await waiting).toMatchObject({ code: 'EIO', request: 'TIOCMIWAIT' });
    expect(() => f.ioctl(cat.get('TIOCMGET'), intArg(kernel.arch))).toThrow(expect.objectContaining({ code: 'EIO' }));
  });

  it("a tty that is not the modem's pty stays a plain tty (ENOTTY for TIOCMGET)", async () => {
    const { kernel } = await sim({}, false);
    const other = openPty(new LibcKernel());
    cleanup.push(() => other.master.close());
    const f = kernel.open(other.slavePath, O.RDWR | O.NOCTTY | O.NONBLOCK);
    cleanup.push(() => f.close());
    expect(() => f.ioctl(catalogue(kernel.arch).get('TIOCMGET'), intArg(kernel.arch))).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
  });

  it('refuses to put its symlink over a file that is not a symlink', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-serial-'));
    const target = path.join(dir, 'ttyUSB0');
    writeFileSync(target, 'precious');
    await expect(makeTestDevice(serialKind, { sim: true, options: { path: target } })).rejects.toThrow(/not a symlink/);
    expect(fs.readFileSync(target, 'utf8')).toBe('precious');
  });
});
