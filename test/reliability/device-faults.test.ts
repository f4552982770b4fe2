/**
 * Devices failing under a running agent, each the way it fails on a real
 * machine: an LED's sysfs directory removed and put back (a fake sysfs tree
 * the real sysfs code reads), a serial port whose pty is closed and another
 * opened in its place (the config names a stable link to it, as a udev
 * by-id link names a USB modem), a tape drive whose st model answers EIO.
 * Each time: the device goes `offline` on its availability topic, its
 * commands get `unavailable` (or `device_error` with the errno, for the one
 * that met the fault), the other devices keep answering, and the device comes
 * back `online` by itself once the fault is gone.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import { openPty, type Pty } from '../../src/kernel/pty.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';

const B = 'dev2mqtt/t1';
const kernel = new LibcKernel();

/** An LED of the LED class as sysfs shows it. */
function writeLed(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'brightness'), '0\n');
  writeFileSync(path.join(dir, 'max_brightness'), '255\n');
  writeFileSync(path.join(dir, 'trigger'), '[none] timer heartbeat\n');
}

/** Points the stable link at a pty's slave; rename() swaps it atomically. */
function link(linkPath: string, pty: Pty): void {
  const tmp = `${linkPath}.new`;
  symlinkSync(pty.slavePath, tmp);
  renameSync(tmp, linkPath);
}

/** Reads what the agent wrote to the pty until `text` came (non-blocking reads on the master). */
async function readUntil(pty: Pty, text: string): Promise<string> {
  let got = '';
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < 2000 && !got.includes(text); i++) {
    const n = pty.master.read(buf);
    if (n) got += buf.subarray(0, n).toString();
    else await new Promise((r) => setTimeout(r, 5));
  }
  return got;
}

describe('device faults', () => {
  let agent: Agent;
  let client: TestClient;
  let dir: string;
  let ledDir: string;
  let ttyLink: string;
  let pty: Pty;

  const availability = (id: string): string | undefined => client.on(`${B}/${id}/availability`).at(-1)?.payload;
  const becomes = (id: string, value: 'online' | 'offline'): Promise<unknown> =>
    client.next(() => availability(id) === value, 30_000, `${id} ${value}`);
  let seq = 0;
  const run = (id: string, command: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
    client.command(`${B}/${id}/cmd/${command}`, args, `${id}-${command}-${++seq}`);
  /** The other devices answer while one is down. */
  async function othersWork(except: string): Promise<void> {
    const checks: Array<[string, string, Record<string, unknown>]> = [
      ['p1', 'echo', { value: 'still here' }],
      ['led1', 'get', {}],
      ['tty1', 'get', {}],
      ['tape0', 'status', {}],
    ];
    for (const [id, command, args] of checks.filter(([id]) => id !== except)) {
      const r = await run(id, command, args);
      expect(r, `${id} while ${except} is down: ${JSON.stringify(r)}`).toMatchObject({ ok: true });
    }
  }

  beforeAll(async () => {
    dir = tempDir('dev2mqtt-devfaults-');
    ledDir = path.join(dir, 'sys', 'class', 'leds', 'test0');
    writeLed(ledDir);
    pty = openPty(kernel);
    ttyLink = path.join(dir, 'ttyMODEM');
    link(ttyLink, pty);
    agent = await startAgent({
      config: {
        devices: [
          { id: 'p1', kind: 'probe' },
          { id: 'led1', kind: 'led', options: { name: 'test0', sysfsRoot: path.join(dir, 'sys'), pollMs: 100 } },
          { id: 'tty1', kind: 'serial', options: { path: ttyLink, watchLines: false } },
          // No status poll: the command below is what meets the fault first.
          { id: 'tape0', kind: 'tape', sim: true, options: { pollMs: 0 } },
        ],
      },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe([`${B}/+/availability`, `${B}/+/result`]);
    for (const id of ['p1', 'led1', 'tty1', 'tape0']) await becomes(id, 'online');
  });
  afterAll(async () => {
    await client?.end();
    await agent?.stop();
    pty?.master.close();
  });

  it('an LED directory removed and restored', async () => {
    expect(await run('led1', 'set', { value: 'ON' })).toMatchObject({ ok: true, result: { state: 'ON', brightness: 255 } });
    rmSync(ledDir, { recursive: true });
    // The 100 ms poll notices, or a command meets the missing file first: either way it goes offline.
    await becomes('led1', 'offline');
    const r = await run('led1', 'set', { value: 'OFF' });
    expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await othersWork('led1');
    writeLed(ledDir);
    await becomes('led1', 'online');
    expect(await run('led1', 'set', { value: 'ON' })).toMatchObject({ ok: true, result: { state: 'ON' } });
  });

  it('a serial pty closed and another opened in its place', async () => {
    expect(await run('tty1', 'write', { data: 'AT\r' })).toMatchObject({ ok: true });
    expect(await readUntil(pty, 'AT\r')).toContain('AT\r');
    // The far end goes away: the agent's side sees the hangup.
    pty.master.close();
    await becomes('tty1', 'offline');
    const r = await run('tty1', 'write', { data: 'lost?' });
    expect(['unavailable', 'device_error']).toContain((r.error as { code: string }).code);
    await othersWork('tty1');
    // A new pty where the link points (the modem re-enumerated): the agent reopens it on its own.
    const next = openPty(kernel);
    unlinkSync(ttyLink);
    link(ttyLink, next);
    pty = next;
    await becomes('tty1', 'online');
    expect(await run('tty1', 'write', { data: 'back\r' })).toMatchObject({ ok: true });
    expect(await readUntil(pty, 'back\r')).toContain('back\r');
  });

  it('a tape drive answering EIO', async () => {
    expect(await run('tape0', 'write', { data: 'record one' })).toMatchObject({ ok: true });
    const faults = path.join(agent.config.node.stateDir, 'devices', 'tape0', 'faults.json');
    writeFileSync(faults, JSON.stringify([{ on: 'any', errno: 'EIO' }]));
    const failed = await run('tape0', 'status');
    expect(failed).toMatchObject({ ok: false, error: { code: 'device_error', errno: 'EIO' } });
    await becomes('tape0', 'offline');
    expect(await run('tape0', 'rewind')).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await othersWork('tape0');
    rmSync(faults);
    await becomes('tape0', 'online');
    // Back, and the record written before the fault is still on the tape.
    expect(await run('tape0', 'rewind')).toMatchObject({ ok: true });
    const read = await run('tape0', 'read', {});
    expect(read).toMatchObject({ ok: true, result: { encoding: 'base64' } });
    expect(Buffer.from((read.result as { data: string }).data, 'base64').toString()).toBe('record one');
  });
});
