/**
 * The serial kind through the whole agent and MQTT: a sim modem, and a real
 * pty behind a symlink (the scripted modem) for hot-unplug — the USB modem
 * that goes away and comes back at the same /dev/serial/by-id path.
 * The serial page's (docs/kinds/serial.md) mosquitto_pub/mosquitto_sub examples are run as written.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { startAgent, tempDir } from '../../helpers/agent.js';
import { TestClient } from '../../helpers/mqtt-client.js';
import { haveMosquitto, Mosquitto, mosquittoSub } from '../../helpers/mosquitto.js';
import { framed, ScriptedModem } from './scripted-modem.js';

const execFileAsync = promisify(execFile);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function agentWith(devices: unknown[]): Promise<{ agent: Agent; client: TestClient }> {
  const agent = await startAgent({ config: { devices } });
  cleanup.push(() => agent.stop());
  const client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
  cleanup.push(() => client.end());
  await client.subscribe('dev2mqtt/#');
  return { agent, client };
}

const json = (payload: string): Record<string, unknown> => JSON.parse(payload) as Record<string, unknown>;

/** Points `link` at `target` atomically, as udev does for a by-id name. */
function relink(link: string, target: string): void {
  fs.symlinkSync(target, `${link}.new`);
  fs.renameSync(`${link}.new`, link);
}

describe('serial over MQTT (sim modem)', () => {
  it('at: answer lines, +CME ERROR as device_error, URC and line events, retained state with the polled signal', async () => {
    const { agent, client } = await agentWith([
      {
        id: 'modem0',
        kind: 'serial',
        sim: true,
        options: { simRingEveryMs: 50, polls: [{ command: 'AT+CSQ', everyMs: 60_000 }] },
      },
    ]);
    const ati = await client.command('dev2mqtt/t1/modem0/cmd/at', { command: 'ATI' }, 'a1');
    expect(ati).toMatchObject({
      id: 'a1',
      device: 'modem0',
      command: 'at',
      ok: true,
      result: { final: 'OK', lines: ['dev2mqtt SIM-MODEM-1', 'Revision: 1.0.0'] },
    });

    await client.command('dev2mqtt/t1/modem0/cmd/at', { command: 'AT+CMEE=1' }, 'a2');
    const bad = await client.command('dev2mqtt/t1/modem0/cmd/at', { command: 'AT+NOPE' }, 'a3');
    expect(bad).toMatchObject({ ok: false, error: { code: 'device_error', final: '+CME ERROR: 4', cme: 4 } });

    const ring = await client.next((m) => m.topic === 'dev2mqtt/t1/modem0/event' && json(m.payload).type === 'urc');
    expect(json(ring.payload)).toMatchObject({ type: 'urc', line: 'RING', code: 'RING' });
    expect(typeof json(ring.payload).ts).toBe('number');
    const ri = await client.next((m) => m.topic === 'dev2mqtt/t1/modem0/event' && json(m.payload).type === 'lines');
    expect(json(ri.payload)).toMatchObject({ type: 'lines', changed: ['ri'], lines: { dtr: true, rts: true, ri: false } });

    await client.next((m) => m.topic === 'dev2mqtt/t1/modem0/state' && m.payload.includes('"dbm"'));
    // A client that subscribes now gets the state as a retained message.
    const late = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    cleanup.push(() => late.end());
    await late.subscribe('dev2mqtt/t1/modem0/state');
    // A live state publish may overtake the retained copy on a loaded machine: wait for the retained one.
    const state = await late.next((m) => m.topic === 'dev2mqtt/t1/modem0/state' && m.retain, 20_000, 'the retained state');
    expect(state.retain).toBe(true);
    expect(json(state.payload)).toMatchObject({
      open: true,
      baud: 115200,
      lines: { dtr: true, rts: true, cts: true, dsr: true },
      signal: { rssi: 21, dbm: -71 },
    });
    expect(json(state.payload).counters).toMatchObject({ rng: expect.any(Number), rx: expect.any(Number) });
  });

  it('setLines, configure and a bad argument', async () => {
    const { client } = await agentWith([{ id: 'modem0', kind: 'serial', sim: true }]);
    expect(await client.command('dev2mqtt/t1/modem0/cmd/setLines', { dtr: false }, 's1')).toMatchObject({
      ok: true,
      result: { dtr: false, rts: true },
    });
    expect(await client.command('dev2mqtt/t1/modem0/cmd/configure', { baud: 250000 }, 's2')).toMatchObject({
      ok: true,
      result: { baud: 250000, adjusted: [] },
    });
    expect(await client.command('dev2mqtt/t1/modem0/cmd/configure', { parity: 'purple' }, 's3')).toMatchObject({
      ok: false,
      error: { code: 'bad_args' },
    });
  });
});

describe('serial over MQTT (a real pty behind a symlink)', () => {
  it('a payload timeoutMs bounds the AT wait, and the lines that did come are in the timeout result', async () => {
    // The modem sends an information line and then never its final result code.
    const modem = await ScriptedModem.start([{ on: 'AT+COPS=?', reply: [framed('+COPS: (2,"Net",,"26201",7)')] }]);
    cleanup.push(() => modem.close());
    const { client } = await agentWith([{ id: 'usb0', kind: 'serial', options: { path: modem.slavePath } }]);
    const r = await client.command('dev2mqtt/t1/usb0/cmd/at', { command: 'AT+COPS=?', timeoutMs: 1500 }, 't1');
    // Had the wait been the 10 s default, the agent's own 1.5 s timeout would have answered, without lines.
    expect(r).toMatchObject({ ok: false, error: { code: 'timeout', lines: ['+COPS: (2,"Net",,"26201",7)'] } });
    expect((r.error as { message: string }).message).toContain('AT+COPS=?');
  });

  it('`lines` on a pty is device_error ENOTTY', async () => {
    const modem = await ScriptedModem.start();
    cleanup.push(() => modem.close());
    const { client } = await agentWith([{ id: 'usb0', kind: 'serial', options: { path: modem.slavePath } }]);
    const r = await client.command('dev2mqtt/t1/usb0/cmd/lines', {}, 'l1');
    expect(r).toMatchObject({ ok: false, error: { code: 'device_error', errno: 'ENOTTY', request: 'TIOCMGET', path: modem.slavePath } });
  });

  it('hot-unplug: offline when the modem goes, online again with its settings when it is back at the same path', async () => {
    const dir = tempDir('dev2mqtt-serial-link-');
    const link = path.join(dir, 'usb-modem-if02');
    const first = await ScriptedModem.start([{ on: 'AT', reply: [framed('OK')] }]);
    cleanup.push(() => first.close());
    relink(link, first.slavePath);
    const { client } = await agentWith([{ id: 'usb0', kind: 'serial', options: { path: link } }]);
    const avail = 'dev2mqtt/t1/usb0/availability';
    await client.next((m) => m.topic === 'dev2mqtt/t1/usb0/state' && json(m.payload).open === true);
    expect(await client.command('dev2mqtt/t1/usb0/cmd/configure', { baud: 57600 }, 'c1')).toMatchObject({ ok: true });

    await first.close();
    fs.rmSync(link);
    await client.next((m) => m.topic === avail && m.payload === 'offline');
    const offlineAt = client.messages.length;
    const r = await client.command('dev2mqtt/t1/usb0/cmd/at', { command: 'AT' }, 'u1');
    expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } });

    const second = await ScriptedModem.start([{ on: 'AT', reply: [framed('OK')] }]);
    cleanup.push(() => second.close());
    relink(link, second.slavePath);
    await client.next((m) => client.messages.indexOf(m) >= offlineAt && m.topic === avail && m.payload === 'online', 30_000);
    expect(spawnSync('stty', ['-F', link], { encoding: 'utf8' }).stdout).toMatch(/speed 57600 baud/);
    expect(await client.command('dev2mqtt/t1/usb0/cmd/at', { command: 'AT' }, 'u2')).toMatchObject({ ok: true, result: { final: 'OK' } });
    expect(second.log).toContainEqual({ recv: 'AT' });
  });
});

/** The `mosquitto_pub` lines of the serial page's Commands section, split as a shell would (they only use '…' quoting). */
function readmeExamples(): string[][] {
  const page = fs.readFileSync(new URL('../../../docs/kinds/serial.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('## Commands'));
  const block = section.slice(section.indexOf('```sh'), section.indexOf('```', section.indexOf('```sh') + 5));
  return block
    .split('\n')
    .filter((l) => l.startsWith('mosquitto_pub '))
    .map((l) => {
      const words: string[] = [];
      for (const m of l.matchAll(/'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? '');
      return words.slice(1);
    });
}

describe.skipIf(!haveMosquitto())('the docs/kinds/serial.md examples: a real mosquitto, mosquitto_pub and mosquitto_sub', () => {
  it('every mosquitto_pub line of the serial section works as written', async () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(7);
    const broker = await Mosquitto.start();
    cleanup.push(() => broker.stop());
    const agent = await startAgent({
      config: {
        node: { id: 'pi-17' },
        mqtt: { url: broker.url },
        broker: { enabled: false },
        devices: [{ id: 'modem0', kind: 'serial', sim: true }],
      },
    });
    cleanup.push(() => agent.stop());
    const sub = await mosquittoSub(broker.port, 'dev2mqtt/pi-17/modem0/result', { count: examples.length });
    cleanup.push(() => sub.proc.kill());
    for (const args of examples) {
      const r = await execFileAsync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), ...args]);
      expect(r.stderr).toBe('');
    }
    const out = await sub.lines;
    const got = out.map((l) => json(l.slice(l.indexOf(' ') + 1)));
    expect(
      got.map((r) => r.command),
      out.join('\n'),
    ).toEqual(['at', 'at', 'write', 'read', 'setLines', 'configure', 'lines']);
    for (const r of got) expect(r, JSON.stringify(r)).toMatchObject({ ok: true, node: 'pi-17', device: 'modem0' });
    expect(got[0]).toMatchObject({ id: 'csq', result: { final: 'OK', lines: ['+CSQ: 21,99'] } });
    expect(got[2]).toMatchObject({ id: 'raw', result: { bytes: 3 } });
    expect((got[3]?.result as { data: string }).data).toContain('OK');
    expect(got[4]).toMatchObject({ id: 'dtr', result: { dtr: false } });
    expect(got[5]).toMatchObject({ result: { baud: 921600, adjusted: [] } });
    expect(got[6]).toMatchObject({ result: { dtr: false, rts: true, cd: false } });
  });
});
