/**
 * The serial conformance suite: one set of expectations on the serial
 * interface (termios2, modem lines, counters, queues, break, flush, AT),
 * run against the sim always and against a real port with a modem on it when
 * DEV2MQTT_TEST_SERIAL names one (e.g. /dev/ttyUSB2; see docs/kinds/serial.md,
 * "Conformance suite on a Pi"). Where a driver may legitimately differ (a pty has no parity, a
 * CDC-ACM modem counts no bytes in TIOCGICOUNT), the suite checks the
 * invariant instead: what is reported is what applies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { O } from '../../../src/kernel/kernel.js';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import type { SerialDevice } from '../../../src/devices/serial/device.js';
import { PortTermios } from '../../../src/devices/serial/termios-io.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';

interface Target {
  readonly name: string;
  readonly sim: boolean;
  readonly options: Record<string, unknown>;
}

const realPort = process.env.DEV2MQTT_TEST_SERIAL;
const targets: Target[] = [{ name: 'sim', sim: true, options: {} }];
if (realPort) {
  targets.push({ name: realPort, sim: false, options: { path: realPort, baud: Number(process.env.DEV2MQTT_TEST_SERIAL_BAUD ?? 115200) } });
} else {
  // Hardware absence is the one legitimate skip: say so in the report rather than pass silently.
  describe('serial conformance: real port', () => {
    it.skip('set DEV2MQTT_TEST_SERIAL=/dev/ttyUSB2 (a port with a modem; DEV2MQTT_TEST_SERIAL_BAUD if not 115200) to run this suite on hardware', () =>
      undefined);
  });
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function open(target: Target, extra: Record<string, unknown> = {}): Promise<TestDevice<SerialDevice>> {
  const t = await makeTestDevice(serialKind, { sim: target.sim, options: { ...target.options, ...extra } });
  cleanup.push(() => t.abort.abort());
  cleanup.push(() => t.device.close());
  await t.device.open();
  return t;
}

const failure = (p: Promise<unknown>): Promise<ReturnType<typeof toErrorBody> | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => toErrorBody(e),
  );

describe.each(targets)('serial conformance: $name', (target) => {
  it('opens in raw mode at the configured speed', async () => {
    const t = await open(target);
    expect(t.device.state()).toMatchObject({ open: true, baud: target.options.baud ?? 115200 });
  });

  it.each([9600, 19200, 57600, 115200])('configure %i baud: applied exactly', async (baud) => {
    const t = await open(target);
    expect(await t.run('configure', { baud })).toMatchObject({ baud, adjusted: [] });
    expect(t.device.state()).toMatchObject({ baud });
  });

  it('configure reports what the driver applied, and the state agrees', async () => {
    const t = await open(target);
    for (const want of [{ dataBits: 7, parity: 'even' }, { stopBits: 2 }, { dataBits: 8, parity: 'none', stopBits: 1 }] as const) {
      const r = (await t.run('configure', want)) as Record<string, unknown> & { adjusted: string[] };
      for (const [k, v] of Object.entries(want)) {
        expect(r.adjusted.includes(k), `${k}: applied ${String(r[k])}, asked ${v}, adjusted ${r.adjusted.join()}`).toBe(r[k] !== v);
      }
      expect(t.device.state()).toMatchObject({ baud: r.baud, dataBits: r.dataBits, parity: r.parity, stopBits: r.stopBits });
    }
  });

  it('DTR and RTS follow setLines; TIOCMGET reports them', async () => {
    const t = await open(target);
    expect(await t.run('setLines', { dtr: true, rts: true })).toMatchObject({ dtr: true, rts: true });
    expect(await t.run('setLines', { rts: false })).toMatchObject({ dtr: true, rts: false });
    expect(await t.run('lines')).toMatchObject({ dtr: true, rts: false });
    expect(await t.run('setLines', { rts: true })).toMatchObject({ rts: true });
    const lines = (await t.run('lines')) as Record<string, unknown>;
    expect(Object.keys(lines).sort()).toEqual(['cd', 'cts', 'dsr', 'dtr', 'ri', 'rts']);
  });

  it('the state carries counters, queue sizes and byte counts', async () => {
    const t = await open(target);
    await t.run('at', { command: 'AT' });
    const s = t.device.state();
    expect(s.inQueue).toBeGreaterThanOrEqual(0);
    expect(s.outQueue).toBeGreaterThanOrEqual(0);
    expect(s.txBytes).toBe(3);
    expect(s.rxBytes).toBeGreaterThanOrEqual('\r\nOK\r\n'.length);
    if (s.counters !== null)
      expect(Object.keys(s.counters as object)).toEqual(expect.arrayContaining(['cts', 'dsr', 'rng', 'dcd', 'rx', 'tx']));
  });

  it('AT answers OK with and without echo; ATI has lines; an unknown command fails with its final code', async () => {
    const t = await open(target);
    expect(await t.run('at', { command: 'ATE1' })).toEqual({ final: 'OK', lines: [] });
    expect(await t.run('at', { command: 'AT' })).toEqual({ final: 'OK', lines: [] });
    expect(await t.run('at', { command: 'ATE0' })).toEqual({ final: 'OK', lines: [] });
    expect(await t.run('at', { command: 'AT' })).toEqual({ final: 'OK', lines: [] });
    expect(((await t.run('at', { command: 'ATI' })) as { lines: string[] }).lines.length).toBeGreaterThan(0);
    await t.run('at', { command: 'ATE1' });
    const e = await failure(t.run('at', { command: 'AT+DEV2MQTTNOSUCHCOMMAND' }));
    expect(e).toMatchObject({ code: 'device_error' });
    expect(String(e?.final)).toMatch(/^(ERROR|\+CME ERROR: .+)$/);
  });

  it("raw write and read see the modem's own bytes", async () => {
    const t = await open(target, { unsolicited: 'off' });
    await t.run('at', { command: 'ATE1' });
    await t.run('write', { data: 'AT\r' });
    let got = '';
    while (!got.includes('OK')) got += ((await t.run('read', { timeoutMs: 2000 })) as { data: string }).data;
    expect(got.replace(/[\r\n]+/g, '|')).toMatch(/^AT\|OK\|$/);
  });

  it('flush and break are accepted', async () => {
    const t = await open(target);
    expect(await t.run('flush', { queue: 'both' })).toEqual({ queue: 'both' });
    expect(await t.run('flush', {})).toEqual({ queue: 'both' });
    expect(await t.run('break', { ms: 20 })).toEqual({ ms: 20 });
    expect(await t.run('break', {})).toEqual({ ms: null });
    expect(await t.run('at', { command: 'AT' })).toMatchObject({ final: 'OK' });
  });

  it('close gives back the termios the port had', async () => {
    const t = await makeTestDevice(serialKind, { sim: target.sim, options: target.options });
    cleanup.push(() => t.abort.abort());
    const libc = new LibcKernel();
    const peek = (): unknown => {
      const f = libc.open(t.device.path, O.RDONLY | O.NOCTTY | O.NONBLOCK);
      try {
        return PortTermios.open(f, libc.arch).current;
      } finally {
        f.close();
      }
    };
    const before = peek();
    await t.device.open();
    await t.run('configure', { baud: 9600 });
    expect(peek()).not.toEqual(before);
    await t.device.close();
    expect(peek()).toEqual(before);
  });
});
