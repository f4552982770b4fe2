/**
 * The AT engine on a real pty through the core, against a modem process
 * written here (scripted-modem.ts holds the pty master).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serialKind } from '../../../src/devices/serial/index.js';
import type { SerialDevice } from '../../../src/devices/serial/device.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';
import { framed, ScriptedModem, type LogEntry, type Rule } from './scripted-modem.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(rules: Rule[], options: Record<string, unknown> = {}): Promise<{ modem: ScriptedModem; t: TestDevice<SerialDevice> }> {
  const modem = await ScriptedModem.start(rules);
  cleanup.push(() => modem.close());
  const t = await makeTestDevice(serialKind, { options: { path: modem.slavePath, ...options } });
  await t.device.open();
  cleanup.push(() => t.device.close());
  return { modem, t };
}

async function failure(p: Promise<unknown>): Promise<ReturnType<typeof toErrorBody>> {
  try {
    await p;
  } catch (e) {
    return toErrorBody(e);
  }
  throw new Error('expected the command to fail');
}

const OK = framed('OK');

/** Waits (by polling the event loop, never by a fixed delay) until `cond` holds. */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('AT commands on a real pty', () => {
  it('strips the echo and returns the answer lines with the final code', async () => {
    const { modem, t } = await setup([{ on: 'AT+CGMI', reply: [framed('Quectel') + OK] }]);
    const r = await t.run('at', { command: 'AT+CGMI' });
    expect(r).toEqual({ final: 'OK', lines: ['Quectel'] });
    // The modem did echo: the 8 bytes of `AT+CGMI\r` came back ahead of the 17 of the answer.
    await modem.until((e) => 'recv' in e && e.recv === 'AT+CGMI');
    expect(t.device.state()).toMatchObject({ rxBytes: 8 + 17, txBytes: 8 });
  });

  it('works the same with echo off (ATE0), and with the echo, answer and final in separate reads', async () => {
    const { modem, t } = await setup([{ on: 'AT+CSQ', reply: [framed('+CSQ: 17,99'), OK] }]);
    await modem.echo(false);
    expect(await t.run('at', { command: 'AT+CSQ' })).toEqual({ final: 'OK', lines: ['+CSQ: 17,99'] });
    await modem.echo(true);
    expect(await t.run('at', { command: 'AT+CSQ' })).toEqual({ final: 'OK', lines: ['+CSQ: 17,99'] });
  });

  it('collects multi-line answers in order', async () => {
    const { t } = await setup([
      {
        on: 'ATI',
        reply: [framed('Quectel'), framed('EC25'), framed('Revision: EC25EFAR06A06M4G') + OK],
      },
    ]);
    expect(await t.run('at', { command: 'ATI' })).toEqual({ final: 'OK', lines: ['Quectel', 'EC25', 'Revision: EC25EFAR06A06M4G'] });
  });

  it('+CME ERROR is ok:false, device_error, with the final code and its number', async () => {
    const { t } = await setup([{ on: 'AT+CPIN?', reply: [framed('+CME ERROR: 10')] }]);
    const e = await failure(t.run('at', { command: 'AT+CPIN?' }));
    expect(e).toMatchObject({ code: 'device_error', final: '+CME ERROR: 10', cme: 10, lines: [] });
    expect(e.message).toContain('+CME ERROR: 10');
  });

  it('every final result code ends a command; only OK succeeds', async () => {
    const finals = ['ERROR', '+CMS ERROR: 500', 'NO CARRIER', 'BUSY', 'NO ANSWER', 'NO DIALTONE', 'CONNECT 115200'];
    const { t } = await setup(finals.map((f, i) => ({ on: `ATX${i}`, reply: [framed(f)] })));
    for (const [i, f] of finals.entries()) {
      const e = await failure(t.run('at', { command: `ATX${i}` }));
      expect(e).toMatchObject({ code: 'device_error', final: f });
    }
  });

  it('a modem that does not answer gives `timeout` with what it did say; its late answer does not answer the next command', async () => {
    const { modem, t } = await setup([
      { on: 'AT+COPS=?', reply: [framed('+COPS: (2,"Operator",,"26201",7)') + OK], hold: true },
      { on: 'AT', reply: [OK] },
    ]);
    const e = await failure(t.run('at', { command: 'AT+COPS=?', timeoutMs: 300 }));
    expect(e.code).toBe('timeout');
    expect(e.message).toContain('AT+COPS=?');
    // The answer arrives after the command gave up …
    await modem.release('AT+COPS=?');
    // … and the next command gets its own answer, not that one.
    expect(await t.run('at', { command: 'AT' })).toEqual({ final: 'OK', lines: [] });
    expect(t.recorded.events.filter((ev) => ev.type === 'urc')).toEqual([]);
  });

  it('a URC in the middle of an answer is published as an event and kept out of the answer', async () => {
    const { t } = await setup([
      {
        on: 'AT+CSQ',
        reply: [framed('+CSQ: 20,99'), framed('+CMTI: "SM",3'), OK],
      },
    ]);
    const r = await t.run('at', { command: 'AT+CSQ' });
    expect(r).toEqual({ final: 'OK', lines: ['+CSQ: 20,99'] });
    const urcs = t.recorded.events.filter((ev) => ev.type === 'urc');
    expect(urcs).toHaveLength(1);
    expect(urcs[0]).toMatchObject({ line: '+CMTI: "SM",3', code: '+CMTI', params: ['SM', '3'], during: 'AT+CSQ' });
  });

  it('RING and +CREG outside a command are events; +CREG answering AT+CREG? is an answer', async () => {
    const { modem, t } = await setup([{ on: 'AT+CREG?', reply: [framed('+CREG: 2,1') + OK] }]);
    await modem.send(framed('RING'), framed('+CREG: 5'));
    await waitFor(() => t.recorded.events.filter((ev) => ev.type === 'urc').length === 2);
    await t.run('at', { command: 'AT+CREG?' }).then((r) => expect(r).toEqual({ final: 'OK', lines: ['+CREG: 2,1'] }));
    const urcs = t.recorded.events.filter((ev) => ev.type === 'urc').map((ev) => [ev.code, ev.line]);
    expect(urcs).toEqual([
      ['RING', 'RING'],
      ['+CREG', '+CREG: 5'],
    ]);
  });

  it('commands never interleave: the second is written only after the first has its final code', async () => {
    const { modem, t } = await setup([
      { on: 'AT+A', reply: [framed('a1'), framed('a2'), OK] },
      { on: 'AT+B', reply: [framed('b1') + OK] },
    ]);
    const [a, b] = await Promise.all([t.run('at', { command: 'AT+A' }), t.run('at', { command: 'AT+B' })]);
    expect(a).toEqual({ final: 'OK', lines: ['a1', 'a2'] });
    expect(b).toEqual({ final: 'OK', lines: ['b1'] });
    // The modem's log travels over IPC, which may trail the pty: wait for its last entry.
    await modem.until((e) => 'sent' in e && e.sent.includes('b1'));
    const order = modem.log.map((e: LogEntry) => ('recv' in e ? `recv ${e.recv}` : 'sent' in e ? `sent ${e.sent.trim()}` : 'closed'));
    expect(order).toEqual(['recv AT+A', 'sent a1', 'sent a2', 'sent OK', 'recv AT+B', 'sent b1\r\n\r\nOK']);
  });

  it('write sends raw bytes; read returns what came in outside commands', async () => {
    const { modem, t } = await setup([{ on: 'PING', reply: ['PONG\r\n'] }], { unsolicited: 'off' });
    await modem.echo(false);
    expect(await t.run('write', { data: '50494e470d', encoding: 'hex' })).toEqual({ bytes: 5 });
    await modem.until((e) => 'sent' in e && e.sent === 'PONG\r\n');
    let got = '';
    while (!got.includes('PONG')) got += ((await t.run('read', { timeoutMs: 5000 })) as { data: string }).data;
    expect(got).toBe('PONG\r\n');
    expect(t.device.state()).toMatchObject({ txBytes: 5, rxBytes: 6 });
  });

  it('when the modem side goes away, the device is lost with a disconnect error and a running command fails', async () => {
    const { modem, t } = await setup([{ on: 'AT+CFUN=1,1', reply: [], hold: true }]);
    const running = failure(t.run('at', { command: 'AT+CFUN=1,1', timeoutMs: 60_000 }));
    await modem.until((e) => 'recv' in e && e.recv === 'AT+CFUN=1,1');
    await modem.close();
    const e = await running;
    expect(e).toMatchObject({ code: 'device_error', errno: 'EIO' });
    expect(t.recorded.lost).toHaveLength(1);
    expect(t.device.state().open).toBe(false);
  });
});
