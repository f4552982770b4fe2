/** The AT protocol's words and the engine's rules, without a port. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { codeOf, isFinal, LineSplitter, paramsOf, UrcMatcher } from '../../../src/devices/serial/at-codes.js';
import { AtEngine, errorDetail, type UnsolicitedMode } from '../../../src/devices/serial/at-engine.js';
import { parseCsq } from '../../../src/devices/serial/polls.js';
import { ownWait } from '../../../src/devices/serial/commands.js';

describe('final result codes', () => {
  it.each([
    'OK',
    'ERROR',
    '+CME ERROR: 10',
    '+CME ERROR: SIM not inserted',
    '+CMS ERROR: 500',
    'NO CARRIER',
    'BUSY',
    'NO ANSWER',
    'NO DIALTONE',
    'CONNECT',
    'CONNECT 115200',
  ])('%s ends a command', (l) => {
    expect(isFinal(l)).toBe(true);
  });
  it.each(['OKAY', '+CSQ: 21,99', 'RING', 'CONNECTED', 'ERRORS', ''])('%s does not', (l) => {
    expect(isFinal(l)).toBe(false);
  });
  it('+CME/+CMS errors carry their number or text', () => {
    expect(errorDetail('+CME ERROR: 10')).toEqual({ cme: 10 });
    expect(errorDetail('+CME ERROR: SIM not inserted')).toEqual({ cme: 'SIM not inserted' });
    expect(errorDetail('+CMS ERROR: 500')).toEqual({ cms: 500 });
    expect(errorDetail('ERROR')).toEqual({});
  });
});

describe('unsolicited result codes', () => {
  const urcs = new UrcMatcher(['+QIND', '^RSSI:']);
  it('codeOf names the code of a line', () => {
    expect(codeOf('+CMTI: "SM",3')).toBe('+CMTI');
    expect(codeOf('RING')).toBe('RING');
    expect(codeOf('^RSSI:5')).toBe('^RSSI');
    expect(codeOf('Quectel')).toBeUndefined();
  });
  it('a known URC prefix interrupts a command that does not name it, and answers one that does', () => {
    expect(urcs.interrupts('+CREG: 1', 'AT+CSQ')).toBe(true);
    expect(urcs.interrupts('+CREG: 0,1', 'AT+CREG?')).toBe(false);
    expect(urcs.interrupts('RING', 'AT+CLIP?')).toBe(true);
    expect(urcs.interrupts('+QIND: "csq",20,99', 'AT+CSQ')).toBe(true);
    expect(urcs.interrupts('^RSSI:5', 'ATI')).toBe(true);
    expect(urcs.interrupts('+CSQ: 20,99', 'AT+CSQ')).toBe(false);
    expect(urcs.interrupts('Quectel', 'ATI')).toBe(false);
  });
  it('parameters are split at commas outside quotes', () => {
    expect(paramsOf('+CMTI: "SM",3')).toEqual(['SM', '3']);
    expect(paramsOf('+CLIP: "+49 30, office",145,,,"",0')).toEqual(['+49 30, office', '145', '', '', '', '0']);
    expect(paramsOf('RING')).toEqual([]);
  });
});

describe('line splitting', () => {
  it('cuts at CR or LF, drops empty lines, keeps a partial line for the next read', () => {
    const s = new LineSplitter();
    const lines: string[] = [];
    s.feed(Buffer.from('AT+CSQ\r\r\n+CSQ: 2'), (l) => lines.push(l));
    expect(lines).toEqual(['AT+CSQ']);
    expect(s.partial).toBe('+CSQ: 2');
    s.feed(Buffer.from('1,99\r\n\r\nOK\r\n'), (l) => lines.push(l));
    expect(lines).toEqual(['AT+CSQ', '+CSQ: 21,99', 'OK']);
  });
  it('a UTF-8 character split across two reads survives', () => {
    const s = new LineSplitter();
    const lines: string[] = [];
    const bytes = Buffer.from('+CUSD: 0,"Guthaben 5 €"\r\n');
    const cut = bytes.indexOf(0xe2) + 1;
    s.feed(bytes.subarray(0, cut), (l) => lines.push(l));
    s.feed(bytes.subarray(cut), (l) => lines.push(l));
    expect(lines).toEqual(['+CUSD: 0,"Guthaben 5 €"']);
  });
  it('a line longer than the limit is passed on rather than kept growing', () => {
    const s = new LineSplitter(16);
    const lines: string[] = [];
    s.feed(Buffer.alloc(40, 0x41), (l) => lines.push(l));
    expect(lines).toEqual(['A'.repeat(40)]);
    expect(s.partial).toBe('');
  });
});

/** Lets the engine's chain start the command (it waits for the one before, even when there is none). */
const started = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the engine without a port', () => {
  function engine(mode: UnsolicitedMode = 'all') {
    const written: string[] = [];
    const urcs: Array<[string, string | undefined]> = [];
    let discarded = 0;
    const e = new AtEngine({
      write: async (b) => {
        written.push(b.toString());
      },
      discardInput: () => {
        discarded++;
      },
      urcs: new UrcMatcher(),
      unsolicited: mode,
      onUnsolicited: (line, during) => urcs.push([line, during]),
      log: pino({ level: 'silent' }),
    });
    return { e, written, urcs, discarded: () => discarded };
  }

  it('writes the command with CR and resolves at the final code', async () => {
    const { e, written } = engine();
    const p = e.run('AT+CGMR', 1000);
    await started();
    expect(written).toEqual(['AT+CGMR\r']);
    expect(e.busy).toBe(true);
    for (const l of ['AT+CGMR', 'EC25EFAR06A06M4G', 'OK']) e.onLine(l);
    expect(await p).toEqual({ final: 'OK', lines: ['EC25EFAR06A06M4G'] });
    expect(e.busy).toBe(false);
  });

  it('the echo is only stripped before the answer starts (an answer line equal to the command stays)', async () => {
    const { e } = engine();
    const p = e.run('ATI', 1000);
    await started();
    for (const l of ['ATI', 'ATI', 'OK']) e.onLine(l);
    expect(await p).toEqual({ final: 'OK', lines: ['ATI'] });
  });

  it('`known` publishes only known URCs outside commands; `off` none', () => {
    const known = engine('known');
    for (const l of ['RING', 'garbage', '+CMTI: "SM",1']) known.e.onLine(l);
    expect(known.urcs.map(([l]) => l)).toEqual(['RING', '+CMTI: "SM",1']);
    const off = engine('off');
    for (const l of ['RING', 'garbage']) off.e.onLine(l);
    expect(off.urcs).toEqual([]);
  });

  it('after a timeout, the next command first discards the input', async () => {
    const { e, discarded } = engine();
    await expect(e.run('AT+COPS=?', 10)).rejects.toMatchObject({ code: 'timeout' });
    expect(discarded()).toBe(0);
    const p = e.run('AT', 1000);
    await started();
    expect(discarded()).toBe(1);
    e.onLine('OK');
    expect(await p).toEqual({ final: 'OK', lines: [] });
  });

  it('a command aborted before it was written is not written', async () => {
    const { e, written } = engine();
    const ac = new AbortController();
    ac.abort();
    await expect(e.run('ATD+4930123;', 1000, ac.signal)).rejects.toMatchObject({ code: 'canceled' });
    expect(written).toEqual([]);
  });

  it('abort fails the running command with the given error', async () => {
    const { e } = engine();
    const p = e.run('AT', 1000);
    await started();
    e.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
  });

  it('an aborted signal ends the wait as a timeout with the lines so far', async () => {
    const { e } = engine();
    const ac = new AbortController();
    const p = e.run('AT+COPS=?', 60_000, ac.signal);
    await started();
    e.onLine('+COPS: (2,"Net",,"26201",7)');
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'timeout', extra: { lines: ['+COPS: (2,"Net",,"26201",7)'] } });
  });
});

describe('polled values', () => {
  it('+CSQ: rssi to dBm and percent; 99 is unknown', () => {
    expect(parseCsq(['+CSQ: 31,0'])).toEqual({ rssi: 31, ber: 0, dbm: -51, percent: 100 });
    expect(parseCsq(['+CSQ: 0,99'])).toEqual({ rssi: 0, ber: null, dbm: -113, percent: 0 });
    expect(parseCsq(['+CSQ: 99,99'])).toEqual({ rssi: null, ber: null, dbm: null, percent: null });
    expect(parseCsq(['OK'])).toBeUndefined();
  });
  it("a handler's own wait ends before the agent's timeout", () => {
    expect(ownWait(1000)).toBe(900);
    expect(ownWait(60_000)).toBe(59_750);
    expect(ownWait(10)).toBe(9);
  });
});
