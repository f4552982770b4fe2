/**
 * Device state on disk (simulated media and saved state under
 * node.stateDir/devices/{id}) on a real tmpfs that is full or read-only: the
 * one command that needed the disk fails with device_error and its errno
 * (never ENOENT, which would read as "the device is gone"), the device stays
 * as it was and usable for everything else, and the same command works once
 * the disk is back. A simulated LED keeps its state in memory and needs the
 * disk only to save it at stop, which never truncates the last good copy. A
 * device that cannot exist at all without its state (a
 * simulated tape's image, a simulated modem's symlink) is offline with the
 * errno and reopened by itself; it never stops the agent starting. (The
 * same, under the real `dev2mqtt run` on mosquitto, in storage-faults.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { toErrorBody } from '../../src/devices/errors.js';
import { ledKind } from '../../src/devices/led/kind.js';
import { serialKind } from '../../src/devices/serial/index.js';
import { tapeKind } from '../../src/devices/tape/kind.js';
import { startAgent } from '../helpers/agent.js';
import { makeTestDevice } from '../helpers/device-context.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { LogCapture } from './helpers/log-capture.js';
import { canMountTmpfs, Tmpfs } from './helpers/tmpfs.js';

const FAST_TAPE = { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1 << 30 };
const TAPE = { pollMs: 0, sim: { timing: FAST_TAPE } };

const mounts: Tmpfs[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const m of mounts.splice(0)) m.cleanup();
});

function tmpfs(kib: number): Tmpfs {
  const m = Tmpfs.mount(kib);
  mounts.push(m);
  return m;
}

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => toErrorBody(e),
  );

describe.skipIf(!canMountTmpfs())('device state on a full or read-only disk', () => {
  it('a simulated LED keeps its state in memory: on a full, then read-only disk every command works; the save at stop keeps the last good copy', async () => {
    const mount = tmpfs(128);
    const saved = path.join(mount.dir, 'sim-led.json');
    const led = async () => {
      const t = await makeTestDevice(ledKind, { sim: true, options: { pollMs: 0 }, stateDir: mount.dir });
      await t.device.open();
      return t;
    };
    const stop = async (t: Awaited<ReturnType<typeof led>>) => {
      await t.device.close();
      // The sim saves its state when the agent stops: on a refusing disk that must not throw.
      expect(() => t.abort.abort()).not.toThrow();
    };
    const first = await led();
    await first.run('set', { value: 42 });
    await stop(first);
    const good = readFileSync(saved, 'utf8');
    expect(JSON.parse(good)).toMatchObject({ brightness: 42 });

    mount.fill();
    const full = await led();
    await expect(full.run('get')).resolves.toMatchObject({ brightness: 42 });
    await expect(full.run('blink', { onMs: 100, offMs: 100 })).resolves.toMatchObject({ trigger: 'timer', delayOnMs: 100 });
    await expect(full.run('set', { value: 7 })).resolves.toMatchObject({ brightness: 7 });
    await stop(full);
    // The new state did not fit: the copy saved before is whole, and nothing half-written is left beside it.
    expect(readFileSync(saved, 'utf8')).toBe(good);
    expect(readdirSync(mount.dir).filter((f) => f.startsWith('sim-led'))).toEqual(['sim-led.json']);

    mount.unfill();
    await mount.remount('ro');
    const ro = await led();
    await expect(ro.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON' });
    expect(ro.recorded.lost).toEqual([]);
    await stop(ro);
    expect(readFileSync(saved, 'utf8')).toBe(good);

    await mount.remount('rw');
    const back = await led();
    await back.run('set', { value: 9 });
    await stop(back);
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toMatchObject({ brightness: 9 });
  });

  it('a simulated tape on a full disk: only what puts data on tape fails (ENOSPC, naming the image); positioning goes on', async () => {
    const mount = tmpfs(256);
    const t = await makeTestDevice(tapeKind, { sim: true, options: TAPE, stateDir: mount.dir });
    await t.device.open();
    cleanups.push(() => t.device.close());
    await t.run('write', { data: 'a'.repeat(8192) });
    mount.fill();
    expect(await failure(t.run('write', { data: 'b'.repeat(8192) }))).toMatchObject({
      code: 'device_error',
      errno: 'ENOSPC',
      path: path.join(mount.dir, 'tape.journal'),
    });
    await expect(t.run('status')).resolves.toMatchObject({ fileNumber: 0, blockNumber: 1, online: true });
    // Far more moves than the image's last page has room to record: each is kept in memory until it has.
    for (let i = 0; i < 40; i++) {
      await t.run('rewind');
      await t.run('fsr', { count: 1 });
    }
    await expect(t.run('tell')).resolves.toMatchObject({ block: 1 });
    // Reading a record into a file on the same disk: the file cannot take it.
    await t.run('rewind');
    expect(await failure(t.run('readFile', { name: 'copy.bin' }))).toMatchObject({ code: 'device_error', errno: 'ENOSPC' });

    mount.unfill();
    await t.run('rewind');
    await t.run('fsr', { count: 1 });
    await expect(t.run('write', { data: 'c'.repeat(8192) })).resolves.toMatchObject({ blockNumber: 2 });
    await t.run('rewind');
    const first = (await t.run('read', { encoding: 'utf8' })) as { data: string };
    const second = (await t.run('read', { encoding: 'utf8' })) as { data: string };
    expect([first.data.slice(0, 1), second.data.slice(0, 1)]).toEqual(['a', 'c']);
  });

  it('a simulated tape on a read-only disk from the start: no throw when made, its open fails with EROFS, it opens once writable', async () => {
    const mount = tmpfs(256);
    await mount.remount('ro');
    const t = await makeTestDevice(tapeKind, { sim: true, options: TAPE, stateDir: mount.dir });
    expect(await failure(t.device.open())).toMatchObject({ code: 'device_error', errno: 'EROFS' });
    await mount.remount('rw');
    await t.device.open();
    cleanups.push(() => t.device.close());
    await expect(t.run('write', { data: 'x'.repeat(512) })).resolves.toMatchObject({ blockNumber: 1 });
  });

  it('a simulated modem on a read-only disk from the start: no throw when made, its open fails with EROFS, it answers once writable', async () => {
    const mount = tmpfs(256);
    await mount.remount('ro');
    const t = await makeTestDevice(serialKind, { sim: true, stateDir: mount.dir });
    cleanups.push(async () => {
      await t.device.close();
      t.abort.abort();
    });
    expect(await failure(t.device.open())).toMatchObject({ code: 'device_error', errno: 'EROFS' });
    await mount.remount('rw');
    await t.device.open();
    await expect(t.run('at', { command: 'AT' })).resolves.toMatchObject({ final: 'OK' });
  });
  it('a simulated modem whose disk turns read-only while it runs: its stop cannot remove the link, and says so, never throws', async () => {
    const mount = tmpfs(256);
    const log = new LogCapture();
    const t = await makeTestDevice(serialKind, { sim: true, stateDir: mount.dir, logStream: log });
    await t.device.open();
    await expect(t.run('at', { command: 'AT' })).resolves.toMatchObject({ final: 'OK' });
    await mount.remount('ro');
    // The agent's stop aborts the device's signal: a throw in a listener of it is an uncaught exception.
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      await t.device.close();
      t.abort.abort();
      // Where Node reports a listener's throw: on the next tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(log.text).toMatch(/sim modem: its link cannot be removed.*EROFS|EROFS.*sim modem: its link cannot be removed/);
  });
});

describe.skipIf(!canMountTmpfs())('an agent whose stateDir is read-only from the start', () => {
  let agent: Agent | undefined;
  let client: TestClient | undefined;
  afterEach(async () => {
    await client?.end();
    await agent?.stop();
    agent = client = undefined;
  });

  it('starts with every simulated kind: what needs no disk serves, the rest is offline with EROFS and comes online once writable', async () => {
    const mount = tmpfs(512);
    await mount.remount('ro');
    const log = new LogCapture();
    agent = await startAgent({
      logStream: log,
      config: {
        node: { stateDir: mount.dir, journalRetryMaxMs: 1000 },
        devices: [
          { id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } },
          { id: 'relay', kind: 'gpio', sim: true, options: { line: 'GPIO17', direction: 'out' } },
          { id: 'modem0', kind: 'serial', sim: true },
          { id: 'tape0', kind: 'tape', sim: true, options: TAPE },
        ],
      },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/#');
    const B = 'dev2mqtt/t1';
    const availability = (id: string, state: 'online' | 'offline', since = 0) =>
      client!.next(
        (m) => m.topic === `${B}/${id}/availability` && m.payload === state && client!.messages.indexOf(m) >= since,
        60_000,
        `${id} ${state}`,
      );

    expect(agent.journalHealth).toMatchObject({ state: 'degraded', errno: 'EROFS' });
    await availability('relay', 'online');
    await availability('led0', 'online');
    await availability('tape0', 'offline');
    await availability('modem0', 'offline');
    for (const id of ['tape0', 'modem0']) {
      const line = await log.waitFor(new RegExp(`"device":"${id}".*"err":"EROFS[^"]*".*device cannot be opened`));
      expect(line).toContain(mount.dir);
    }
    expect(await client.command(`${B}/relay/cmd/set`, { value: 'ON' }, 'relay-on')).toMatchObject({ ok: true });
    expect(await client.command(`${B}/led0/cmd/get`, {}, 'led-get')).toMatchObject({ ok: true });
    // Its state lives in memory: a change needs no disk.
    expect(await client.command(`${B}/led0/cmd/set`, { value: 'ON' }, 'led-on')).toMatchObject({ ok: true });
    expect(await client.command(`${B}/tape0/cmd/status`, {}, 'tape-ro')).toMatchObject({ ok: false, error: { code: 'unavailable' } });

    const writableAt = client.messages.length;
    await mount.remount('rw');
    await availability('tape0', 'online', writableAt);
    await availability('modem0', 'online', writableAt);
    expect(await client.command(`${B}/led0/cmd/set`, { value: 'ON' }, 'led-on-again')).toMatchObject({ ok: true });
    expect(await client.command(`${B}/tape0/cmd/write`, { data: 'x' }, 'tape-write')).toMatchObject({ ok: true });
    expect(await client.command(`${B}/modem0/cmd/at`, { command: 'AT' }, 'modem-at')).toMatchObject({ ok: true });
  }, 120_000);
});
