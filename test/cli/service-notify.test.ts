/**
 * systemd notification: the datagram through libc (received by a python3
 * AF_UNIX socket, path and abstract), the notifier's watchdog arithmetic, and
 * the real binary under a fake NOTIFY_SOCKET: READY, WATCHDOG pings, STOPPING.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServiceNotifier } from '../../src/cli/service-notify.js';
import { sendNotify, unixAddress } from '../../src/kernel/libc-notify.js';
import { tempDir } from '../helpers/agent.js';
import { LAUNCHER } from '../helpers/cli.js';
import { requireTools } from '../helpers/tools.js';

const log = pino({ level: 'silent' });
const havePython = requireTools('the sd_notify suite through a real AF_UNIX datagram socket (python3 plays systemd)', 'python3');

const RECEIVER = `
import json, socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + name[1:] if name.startswith('@') else name)
print(json.dumps('BOUND'), flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;
import { deadline } from '../helpers/deadline.js';

/** A python3 process standing in for systemd's notify socket; `messages` are the datagrams in order. */
class FakeSystemd {
  readonly messages: string[] = [];
  readonly #proc: ChildProcess;
  #waiters: Array<() => void> = [];

  private constructor(readonly socket: string) {
    this.#proc = spawn('python3', ['-c', RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    this.#proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) this.messages.push(JSON.parse(l) as string);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async start(socket: string): Promise<FakeSystemd> {
    const f = new FakeSystemd(socket);
    await f.until((m) => m.includes('BOUND'), 'the socket bound');
    return f;
  }

  async until(pred: (m: string[]) => boolean, what: string): Promise<void> {
    const until = Date.now() + deadline(30_000);
    while (!pred(this.messages)) {
      if (Date.now() > until) throw new Error(`never got ${what}; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  stop(): void {
    this.#proc.kill();
  }
}

const fakes: FakeSystemd[] = [];
const procs: ChildProcess[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const f of fakes.splice(0)) f.stop();
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});

describe('sd_notify', () => {
  it('lays out sockaddr_un for a path (with its NUL) and for an abstract name (without)', () => {
    const p = unixAddress('/run/systemd/notify');
    expect(p.length).toBe(2 + '/run/systemd/notify'.length + 1);
    expect(p.addr.subarray(2, p.length - 1).toString()).toBe('/run/systemd/notify');
    const a = unixAddress('@dev2mqtt-test');
    expect(a.length).toBe(2 + 1 + 'dev2mqtt-test'.length);
    expect(a.addr[2]).toBe(0);
    expect(() => unixAddress(`/${'x'.repeat(120)}`)).toThrow(/too long/);
  });

  it('pings at half the watchdog period, only for its own pid, and nothing without NOTIFY_SOCKET', () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const n = new ServiceNotifier({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '4000000' }, pid: 7, send: (_s, m) => sent.push(m), log });
    expect(n.watchdogMs()).toBe(2000);
    n.ready('ok');
    vi.advanceTimersByTime(5000);
    n.stopping();
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(['READY=1\nSTATUS=ok\nMAINPID=7', 'WATCHDOG=1', 'WATCHDOG=1', 'STOPPING=1']);
    expect(
      new ServiceNotifier({
        env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '8' },
        pid: 7,
        send: () => undefined,
        log,
      }).watchdogMs(),
    ).toBeUndefined();
    const quiet: string[] = [];
    const off = new ServiceNotifier({ env: { WATCHDOG_USEC: '4000000' }, pid: 7, send: (_s, m) => quiet.push(m), log });
    off.ready('ok');
    vi.advanceTimersByTime(10_000);
    off.stopping();
    expect(off.active).toBe(false);
    expect(quiet).toEqual([]);
  });

  it('keeps running when the socket is gone, saying so once', () => {
    const warnings: string[] = [];
    const warnLog = pino({ level: 'warn' }, { write: (l: string) => warnings.push(l) });
    const n = new ServiceNotifier({ env: { NOTIFY_SOCKET: path.join(tempDir(), 'absent') }, pid: 1, send: sendNotify, log: warnLog });
    n.ready('a');
    n.stopping();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('cannot notify systemd');
    expect(warnings[0]).toMatch(/sendto on .*absent failed: ENOENT/);
  });

  describe.skipIf(!havePython)('through a real AF_UNIX datagram socket', () => {
    it.each([
      ['a path', () => path.join(tempDir('dev2mqtt-notify-'), 'notify')],
      ['an abstract name', () => `@dev2mqtt-test-${process.pid}`],
    ])('delivers the message to %s', async (_what, name) => {
      const fake = await FakeSystemd.start(name());
      fakes.push(fake);
      sendNotify(fake.socket, 'READY=1\nSTATUS=hello');
      await fake.until((m) => m.includes('READY=1\nSTATUS=hello'), 'the datagram');
    });

    it('the agent says READY, pings the watchdog, and says STOPPING on SIGTERM', async () => {
      const dir = tempDir('dev2mqtt-notify-');
      const fake = await FakeSystemd.start(path.join(dir, 'notify'));
      fakes.push(fake);
      const config = path.join(dir, 'config.json');
      writeFileSync(
        config,
        JSON.stringify({
          node: { id: 'sd1', stateDir: path.join(dir, 'state') },
          mqtt: { url: 'embedded' },
          broker: { port: 0 },
          log: { level: 'warn' },
        }),
      );
      const proc = spawn(process.execPath, [LAUNCHER, 'run', '-c', config], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, NOTIFY_SOCKET: fake.socket, WATCHDOG_USEC: '200000' },
      });
      procs.push(proc);
      const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
      await fake.until((m) => m.filter((x) => x === 'WATCHDOG=1').length >= 2, 'two watchdog pings');
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      await fake.until((m) => m.includes('STOPPING=1'), 'STOPPING=1');
      const m = fake.messages.filter((x) => x !== 'BOUND');
      expect(m[0]).toMatch(new RegExp(`^READY=1\nSTATUS=node sd1: 0 devices, broker embedded\nMAINPID=${proc.pid}$`));
      expect(m.indexOf('STOPPING=1')).toBe(m.length - 1);
      expect(m.slice(1, -1).every((x) => x === 'WATCHDOG=1')).toBe(true);
    });
  });
});
