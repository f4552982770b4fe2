/**
 * Least privilege, each part through the agent as a sender reaches it:
 *  - raw ioctl passthrough (security.rawIoctl): off by default; the config
 *    names devices and catalogue requests, and refuses what it cannot allow;
 *    when on, only the listed requests reach the device file (a real pty,
 *    through the real kernel), everything else is `forbidden`;
 *  - the tape kind's readFile/writeFile stay in their directory: `..`,
 *    absolute paths and symbolic links out are `forbidden`;
 *  - topic segments never become paths: under strace, no file syscall of a
 *    running agent names a segment a sender made up;
 *  - payload size and per-device rate limits answer with their error codes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { RateLimiter } from '../../src/agent/rate-limit.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import { openPty, type Pty } from '../../src/kernel/pty.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { LAUNCHER } from '../helpers/cli.js';
import { mosquittoPub } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { requireTools } from '../helpers/tools.js';
import { writeConfig } from './helpers/child-agent.js';
import { deadline } from '../helpers/deadline.js';

const B = 'dev2mqtt/t1';
type Result = {
  id: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string; errno?: string; request?: string };
};

const agents: Agent[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end();
  for (const a of agents.splice(0)) await a.stop();
});

async function agentWith(config: Record<string, unknown>): Promise<{ agent: Agent; client: TestClient }> {
  const agent = await startAgent({ config });
  agents.push(agent);
  const client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
  clients.push(client);
  await client.subscribe([`${B}/+/result`, `${B}/result`, `${B}/devices`]);
  return { agent, client };
}

let seq = 0;
const run = async (c: TestClient, device: string, command: string, args: Record<string, unknown> = {}): Promise<Result> =>
  (await c.command(`${B}/${device}/cmd/${command}`, args, `${device}-${command}-${++seq}`)) as Result;

const configError = async (object: Record<string, unknown>): Promise<ConfigError> => {
  const e = await loadConfig({ object, registry: new KindRegistry(builtinKinds()), env: {} }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ConfigError);
  return e as ConfigError;
};

describe('raw ioctl passthrough', () => {
  const kernel = new LibcKernel();
  let pty: Pty;
  beforeAll(() => {
    pty = openPty(kernel);
  });
  afterAll(() => pty.master.close());

  it('is off by default: `ioctl` is forbidden on every device', async () => {
    const { client } = await agentWith({
      devices: [
        { id: 'g1', kind: 'gpio', sim: true, options: { line: 4, direction: 'out' } },
        { id: 'led1', kind: 'led', sim: true },
      ],
    });
    for (const device of ['g1', 'led1']) {
      const r = await run(client, device, 'ioctl', { request: 'GPIO_V2_LINE_GET_VALUES_IOCTL' });
      expect(r).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(r.error?.message).toMatch(/raw ioctl passthrough is off.*security\.rawIoctl/);
    }
  });

  it('the config names configured devices and catalogue requests, and refuses requests that hand back a file descriptor', async () => {
    const base = { node: { id: 'c1', stateDir: tempDir() }, devices: [{ id: 'g1', kind: 'gpio', sim: true, options: { line: 4 } }] };
    const unknownDevice = await configError({ ...base, security: { rawIoctl: { nosuch: ['TIOCMGET'] } } });
    expect(unknownDevice.issues).toContainEqual({ path: 'security.rawIoctl.nosuch', message: "no device 'nosuch' is configured" });
    const unknownRequest = await configError({ ...base, security: { rawIoctl: { g1: ['NOT_AN_IOCTL'] } } });
    expect(unknownRequest.issues.map((i) => i.path)).toContain('security.rawIoctl.g1');
    const newFd = await configError({ ...base, security: { rawIoctl: { g1: ['GPIO_V2_GET_LINE_IOCTL'] } } });
    expect(newFd.issues.find((i) => i.path === 'security.rawIoctl.g1')?.message).toMatch(/new file descriptor/);
    // A kind without a device file (sysfs LEDs) cannot take it: the agent refuses to start, naming the key.
    const led = await startAgent({
      config: { devices: [{ id: 'led1', kind: 'led', sim: true }], security: { rawIoctl: { led1: ['TIOCMGET'] } } },
      start: false,
    });
    await expect(led.start()).rejects.toThrow(/security\.rawIoctl\.led1: led devices have no device file/);
    await led.stop();
  });

  it('when on, the listed requests reach the real tty through the kernel; others, and other devices, are forbidden', async () => {
    const { client } = await agentWith({
      devices: [
        { id: 'tty1', kind: 'serial', options: { path: pty.slavePath, baud: 57600, watchLines: false } },
        { id: 'g1', kind: 'gpio', sim: true, options: { line: 4, direction: 'out' } },
      ],
      security: { rawIoctl: { tty1: ['TCGETS2', 'FIONREAD', 'TIOCMGET'] } },
    });
    // TCGETS2 fills a struct termios2: the kernel's answer, decoded, has the speed the device set.
    const termios = await run(client, 'tty1', 'ioctl', { request: 'TCGETS2' });
    expect(termios, JSON.stringify(termios)).toMatchObject({
      ok: true,
      result: { request: 'TCGETS2', ret: 0, encoding: 'hex', struct: { c_ospeed: 57600, c_ispeed: 57600 } },
    });
    expect(String(termios.result?.code)).toMatch(/^0x[0-9a-f]{8}$/);
    // FIONREAD: a pointer to an int.
    expect(await run(client, 'tty1', 'ioctl', { request: 'FIONREAD' })).toMatchObject({ ok: true, result: { int: 0 } });
    // Listed, but a pty has no modem lines: the kernel's ENOTTY, named.
    expect(await run(client, 'tty1', 'ioctl', { request: 'TIOCMGET' })).toMatchObject({
      ok: false,
      error: { code: 'device_error', errno: 'ENOTTY', request: 'TIOCMGET' },
    });
    // Not listed (a real request, and a made-up one): forbidden before anything reaches the device.
    for (const request of ['TIOCMSET', 'TCSETS2', 'NOT_AN_IOCTL']) {
      const r = await run(client, 'tty1', 'ioctl', { request, arg: 0 });
      expect(r, request).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(r.error?.message).toContain('security.rawIoctl.tty1: TCGETS2, FIONREAD, TIOCMGET');
    }
    // Wrong argument shapes.
    expect(await run(client, 'tty1', 'ioctl', { request: 'FIONREAD', arg: 'zz' })).toMatchObject({
      ok: false,
      error: { code: 'bad_args' },
    });
    expect(await run(client, 'tty1', 'ioctl', { request: 'TCGETS2', arg: '00' })).toMatchObject({ ok: false, error: { code: 'bad_args' } });
    expect(await run(client, 'tty1', 'ioctl', {})).toMatchObject({ ok: false, error: { code: 'bad_args' } });
    // Another device of the same agent: still off.
    expect(await run(client, 'g1', 'ioctl', { request: 'TCGETS2' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    // The device list tells senders where it is on.
    const devices = JSON.parse((await client.next((m) => m.topic === `${B}/devices`)).payload) as Array<{
      id: string;
      commands: Record<string, unknown>;
    }>;
    expect(Object.keys(devices.find((d) => d.id === 'tty1')?.commands ?? {})).toContain('ioctl');
    expect(Object.keys(devices.find((d) => d.id === 'g1')?.commands ?? {})).not.toContain('ioctl');
  });

  it('passes a struct in both directions to a GPIO line request (the gpiochip model)', async () => {
    const { client } = await agentWith({
      devices: [{ id: 'g1', kind: 'gpio', sim: true, options: { line: 4, direction: 'out' } }],
      security: { rawIoctl: { g1: ['GPIO_V2_LINE_GET_VALUES_IOCTL'] } },
    });
    expect(await run(client, 'g1', 'set', { value: 'ON' })).toMatchObject({ ok: true });
    // struct gpio_v2_line_values { u64 bits; u64 mask; }: ask for the line of the request (mask bit 0).
    const r = await run(client, 'g1', 'ioctl', { request: 'GPIO_V2_LINE_GET_VALUES_IOCTL', arg: `${'00'.repeat(8)}01${'00'.repeat(7)}` });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, result: { ret: 0 } });
    expect(String((r.result?.struct as { bits: unknown }).bits)).toBe('1');
    // A readwrite request needs its struct.
    expect(await run(client, 'g1', 'ioctl', { request: 'GPIO_V2_LINE_GET_VALUES_IOCTL' })).toMatchObject({
      ok: false,
      error: { code: 'bad_args' },
    });
  });
});

describe('tape files stay in filesDir', () => {
  it('`..`, absolute paths and symbolic links out are forbidden; a plain name works', async () => {
    const dir = tempDir('dev2mqtt-files-');
    const filesDir = path.join(dir, 'files');
    const outside = path.join(dir, 'outside');
    mkdirSync(filesDir, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'secret'), 'not for the tape');
    writeFileSync(path.join(filesDir, 'ok.bin'), 'fine to write');
    symlinkSync(outside, path.join(filesDir, 'out'));
    symlinkSync(path.join(outside, 'secret'), path.join(filesDir, 'secret-link'));
    const { client } = await agentWith({
      devices: [{ id: 'tape0', kind: 'tape', sim: true, options: { filesDir, pollMs: 0, sim: { timing: { rewindMs: 0, weofMs: 0 } } } }],
    });

    for (const name of [
      '../outside/secret',
      'a/../../outside/secret',
      path.join(outside, 'secret'),
      '/etc/passwd',
      'out/secret',
      'secret-link',
    ]) {
      const r = await run(client, 'tape0', 'writeFile', { name });
      expect(r, `writeFile ${name}`).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(await run(client, 'tape0', 'writeFile', { name: 'ok.bin', weof: true })).toMatchObject({ ok: true, result: { bytes: 13 } });
    expect(await run(client, 'tape0', 'rewind')).toMatchObject({ ok: true });
    for (const name of ['../outside/copy', '/tmp/copy', 'out/copy', 'secret-link']) {
      const r = await run(client, 'tape0', 'readFile', { name, overwrite: true });
      expect(r, `readFile ${name}`).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('not for the tape');
    expect(existsSync(path.join(outside, 'copy'))).toBe(false);
    expect(await run(client, 'tape0', 'readFile', { name: 'sub/copy.bin' })).toMatchObject({ ok: true });
    expect(readFileSync(path.join(filesDir, 'sub', 'copy.bin'), 'utf8')).toBe('fine to write');
  });
});

describe.skipIf(!requireTools('the strace suite (no topic segment becomes a path)', 'strace'))('topic segments never become paths', () => {
  it(
    'no file syscall of a running agent names a segment from a topic',
    async () => {
      const dir = tempDir('dev2mqtt-strace-');
      const MARK = 'zq9mark';
      const config = writeConfig(
        {
          node: { id: 'st', groups: ['g1'], stateDir: path.join(dir, 'state') },
          mqtt: { url: 'embedded' },
          broker: { port: 0 },
          devices: [
            { id: 'led1', kind: 'led', sim: true, options: { pollMs: 0 } },
            { id: 'tape0', kind: 'tape', sim: true, options: { pollMs: 0 } },
          ],
          log: { level: 'info' },
        },
        dir,
      );
      const trace = path.join(dir, 'strace.txt');
      // --seccomp-bpf: only the traced calls stop the process, so the agent runs at near its own speed.
      const child = spawn(
        'strace',
        ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=%file', '-o', trace, process.execPath, LAUNCHER, 'run', '-c', config],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        // The embedded broker's port is in its log line.
        let port = 0;
        for (let i = 0; i < 1000 && !port; i++) {
          port = Number(/"port":(\d+)/.exec(out)?.[1] ?? 0);
          if (!port) await new Promise((r) => setTimeout(r, 20));
        }
        expect(port).toBeGreaterThan(0);
        const c = await TestClient.connect(`mqtt://127.0.0.1:${port}`);
        clients.push(c);
        await c.subscribe(['dev2mqtt/st/+/result', 'dev2mqtt/st/result']);
        const segments = ['..', '.', `..${MARK}`, MARK, `%2e%2e${MARK}`, `${MARK}..`, `~${MARK}`, `${MARK}.json`];
        const topics: string[] = [];
        for (const seg of segments) {
          topics.push(
            `dev2mqtt/st/${seg}/cmd/get`,
            `dev2mqtt/st/led1/cmd/${seg}`,
            `dev2mqtt/st/tape0/cmd/${seg}`,
            `dev2mqtt/st/cmd/${seg}`,
            `dev2mqtt/group/g1/${seg}/cmd/get`,
            `dev2mqtt/st/${seg}/state`,
          );
        }
        for (const t of topics) await c.publish(t, `{"id":"${MARK}","device":"${MARK}","name":"x"}`);
        await c.publish('dev2mqtt/st/cmd/batch', JSON.stringify({ id: 'b', device: `..${MARK}`, steps: [{ command: MARK }] }));
        // A command that does touch the disk, last: once its result is in, the rest were handled.
        const done = await c.command('dev2mqtt/st/led1/cmd/set', { value: 'ON' }, 'last');
        expect(done).toMatchObject({ ok: true });
      } finally {
        // strace detaches on a signal and leaves the agent running: stop the agent itself (its pid is in its log).
        const pid = Number(/"pid":(\d+)/.exec(out)?.[1] ?? 0);
        if (pid > 0) process.kill(pid, 'SIGTERM');
        else child.kill('SIGKILL');
        await exited;
      }
      const syscalls = readFileSync(trace, 'utf8');
      // The trace is not empty: it saw the agent write its journal and the sim LED's files.
      expect(syscalls).toContain('journal.jsonl');
      expect(syscalls).toContain(path.join('devices', 'led1'));
      expect(syscalls.split('\n').filter((l) => l.includes(MARK))).toEqual([]);
    },
    deadline(120_000),
  );
});

describe('payload size and rate limits', () => {
  it('a payload over security.maxPayloadBytes is too_large, also as a node command', async () => {
    const { agent } = await agentWith({ security: { maxPayloadBytes: 1024 } });
    const c = clients[0] as TestClient;
    const big = JSON.stringify({ id: 'big', value: 'v'.repeat(1100) });
    expect((await mosquittoPub(agent.brokerPort as number, `${B}/p1/cmd/echo`, big)).status).toBe(0);
    const r = JSON.parse((await c.next((m) => m.topic === `${B}/p1/result`)).payload) as Result;
    expect(r).toMatchObject({ ok: false, error: { code: 'too_large' } });
    expect(r.error?.message).toMatch(/over the limit of 1024/);
    expect((await mosquittoPub(agent.brokerPort as number, `${B}/cmd/ping`, big)).status).toBe(0);
    expect(JSON.parse((await c.next((m) => m.topic === `${B}/result`)).payload)).toMatchObject({ ok: false, error: { code: 'too_large' } });
    // Just under the limit is fine, and so is the limit itself.
    expect(await run(c, 'p1', 'echo', { value: 'v'.repeat(900) })).toMatchObject({ ok: true });
    const frame = JSON.stringify({ id: 'edge', value: '' });
    const edge = JSON.stringify({ id: 'edge', value: 'v'.repeat(1024 - Buffer.byteLength(frame)) });
    expect(Buffer.byteLength(edge)).toBe(1024);
    expect((await mosquittoPub(agent.brokerPort as number, `${B}/p1/cmd/echo`, edge)).status).toBe(0);
    expect(await c.result(`${B}/p1/result`, 'edge')).toMatchObject({ ok: true });
  });

  it('past its rate a device answers rate_limited, while another device keeps its own allowance', async () => {
    // One command a second, three at once: forty in a burst cannot all pass (that would take over half a minute).
    const { client } = await agentWith({
      security: { rateLimitPerS: 1, rateLimitBurst: 3 },
      devices: [
        { id: 'p1', kind: 'probe' },
        { id: 'p2', kind: 'probe' },
      ],
    });
    const ids = Array.from({ length: 40 }, (_, i) => `flood-${i}`);
    await Promise.all(ids.map((id) => client.publish(`${B}/p1/cmd/count`, JSON.stringify({ id }))));
    const results = await Promise.all(ids.map((id) => client.result(`${B}/p1/result`, id) as Promise<Result>));
    const limited = results.filter((r) => r.error?.code === 'rate_limited');
    expect(results.filter((r) => r.ok).length).toBeGreaterThanOrEqual(3);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length + results.filter((r) => r.ok).length).toBe(40);
    expect(limited[0]?.error?.message).toMatch(/p1/);
    expect(await run(client, 'p2', 'count')).toMatchObject({ ok: true });
  });

  it('the token bucket: burst, then the rate, per key (a clock the test turns)', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 3, () => now);
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false]);
    expect(limiter.take('b')).toBe(true);
    now += 499;
    expect(limiter.take('a')).toBe(false);
    now += 1;
    expect(limiter.take('a')).toBe(true);
    now += 10_000;
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false]);
    expect(new RateLimiter(0, 1, () => now).take('x')).toBe(true);
  });
});
