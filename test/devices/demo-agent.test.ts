/**
 * The demo devices (a sim LED, a sim output line, a sim button that presses
 * itself) in a running agent, seen the way the README tells a newcomer to
 * look: `mosquitto_sub -v -t 'dev2mqtt/#'`, commands with `mosquitto_pub`.
 * The real mosquitto clients talk to the agent's broker over loopback.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import type { CdevLine } from '../../src/devices/gpio/cdev.js';
import type { GpioDevice } from '../../src/devices/gpio/device.js';
import { FLAG, lineInfo } from '../../src/devices/gpio/uapi.js';
import type { LedDevice } from '../../src/devices/led/device.js';
import { O } from '../../src/kernel/kernel.js';
import type { SimSysfs } from '../../src/kernel/sysfs-sim.js';
import { startAgent } from '../helpers/agent.js';
import { haveMosquitto, Mosquitto } from '../helpers/mosquitto.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const haveClients =
  requireTool('mosquitto_sub', 'the demo is watched with mosquitto_sub') &&
  requireTool('mosquitto_pub', 'commands are sent with mosquitto_pub');

/** The demo's devices as config/default.json lists them, with the button pressing itself faster. */
function demoDevices(toggleMs: number): unknown[] {
  return [
    { id: 'led0', kind: 'led', name: 'Demo LED', sim: true, options: { name: 'led0' } },
    { id: 'relay', kind: 'gpio', name: 'Demo relay (output line)', sim: true, options: { line: 'GPIO17', direction: 'out' } },
    {
      id: 'button',
      kind: 'gpio',
      name: 'Demo button (presses itself)',
      sim: true,
      options: { line: 'GPIO27', direction: 'in', edge: 'both', bias: 'pull-up', simToggleMs: toggleMs },
    },
  ];
}

interface Line {
  readonly topic: string;
  readonly payload: string;
}

class Sub {
  readonly lines: Line[] = [];
  readonly #proc: ChildProcessWithoutNullStreams;
  #waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  #rest = '';

  constructor(port: number) {
    // Line-buffered: into a pipe, mosquitto_sub's stdio would hold lines back.
    this.#proc = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-q', '1', '-v', '-t', 'dev2mqtt/#']);
    this.#proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#rest + chunk).split('\n');
      this.#rest = parts.pop() ?? '';
      for (const text of parts) {
        const at = text.indexOf(' ');
        const line = { topic: at < 0 ? text : text.slice(0, at), payload: at < 0 ? '' : text.slice(at + 1) };
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
      }
    });
  }

  next(match: (l: Line) => boolean, what: string): Promise<Line> {
    const hit = this.lines.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(`mosquitto_sub never printed ${what}; it printed:\n${this.lines.map((l) => `${l.topic} ${l.payload}`).join('\n')}`),
          ),
        30_000,
      );
      this.#waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  }

  /** The JSON of every line on `topic` so far. */
  json(topic: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.topic === topic).map((l) => JSON.parse(l.payload) as Record<string, unknown>);
  }

  stop(): void {
    this.#proc.kill();
  }
}

/** Async: the broker lives in this process, so a spawnSync would stall it and the publish with it. */
async function pub(port: number, topic: string, message: string): Promise<void> {
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', message]);
}

let agent: Agent | undefined;
let sub: Sub | undefined;
let broker: Mosquitto | undefined;
afterEach(async () => {
  sub?.stop();
  await agent?.stop();
  await broker?.stop();
  agent = undefined;
  broker = undefined;
});

/** The agent on its embedded broker (as `npm start` runs it), or on a real mosquitto. */
async function demo(
  toggleMs: number,
  on: 'embedded' | 'mosquitto' = 'embedded',
): Promise<{ port: number; sub: Sub; result: (device: string, id: string) => Promise<Record<string, unknown>> }> {
  if (on === 'mosquitto') broker = await Mosquitto.start();
  agent = await startAgent({ config: { devices: demoDevices(toggleMs), ...(broker ? { mqtt: { url: broker.url } } : {}) } });
  const port = broker?.port ?? agent.brokerPort ?? 0;
  const s = (sub = new Sub(port));
  await s.next((l) => l.topic === 'dev2mqtt/t1/status' && l.payload === 'online', 'the retained node status');
  const result = async (device: string, id: string) => {
    const l = await s.next(
      (x) => x.topic === `dev2mqtt/t1/${device}/result` && x.payload.includes(`"id":"${id}"`),
      `result ${id} of ${device}`,
    );
    return JSON.parse(l.payload) as Record<string, unknown>;
  };
  return { port, sub: s, result };
}

/** The demo's broker, and a real mosquitto where the machine has one. */
const brokers: Array<'embedded' | 'mosquitto'> = haveClients && haveMosquitto() ? ['embedded', 'mosquitto'] : ['embedded'];

describe.skipIf(!haveClients)('the demo over MQTT, as a newcomer watches it', () => {
  it.each(brokers)('the self-pressing button publishes edge events with kernel timestamps and sequence numbers (%s)', async (on) => {
    const { sub: s } = await demo(25, on);
    const topic = 'dev2mqtt/t1/button/event';
    await s.next((l) => l.topic === topic && s.json(topic).length >= 4, 'four edge events of the button');
    const edges = s.json(topic).slice(0, 4);
    for (const e of edges) {
      expect(e).toMatchObject({ type: 'edge' });
      expect(String(e.timestampNs)).toMatch(/^\d+$/);
      expect(typeof e.ts).toBe('number');
      expect(e.value).toBe(e.edge === 'rising' ? 1 : 0);
    }
    // Edges alternate, the kernel's sequence numbers count up by one, and time runs forward.
    expect(edges.map((e, i) => e.edge !== edges[i - 1]?.edge || i === 0)).toEqual([true, true, true, true]);
    const first = Number(edges[0]?.seqno);
    expect(edges.map((e) => e.seqno)).toEqual([first, first + 1, first + 2, first + 3]);
    const stamps = edges.map((e) => BigInt(String(e.timestampNs)));
    expect(stamps.every((ns, i) => i === 0 || ns >= (stamps[i - 1] ?? 0n))).toBe(true);
    // The button's retained state follows its edges.
    const state = await s.next(
      (l) => l.topic === 'dev2mqtt/t1/button/state' && l.payload.includes('"lastEdge":{'),
      'a button state with its last edge',
    );
    expect(JSON.parse(state.payload)).toMatchObject({ direction: 'in', edge: 'both', interface: 'cdev', lineName: 'GPIO27' });
    await s.next((l) => l.topic === 'dev2mqtt/t1/button/availability' && l.payload === 'online', 'the button online');
  });

  it('mosquitto_pub commands from the README drive the LED and the relay', async () => {
    const { port, sub: s, result } = await demo(0);
    await pub(port, 'dev2mqtt/t1/led0/cmd/set', 'ON');
    const on = await s.next((l) => l.topic === 'dev2mqtt/t1/led0/result' && l.payload.includes('"command":"set"'), 'the LED set result');
    expect(JSON.parse(on.payload)).toMatchObject({ ok: true, device: 'led0', result: { state: 'ON', brightness: 255 } });
    await s.next((l) => l.topic === 'dev2mqtt/t1/led0/state' && l.payload.includes('"brightness":255'), 'the LED state at full brightness');

    await pub(port, 'dev2mqtt/t1/led0/cmd/set', '{"brightness":64,"id":"dim"}');
    expect(await result('led0', 'dim')).toMatchObject({ ok: true, result: { brightness: 64 } });
    await pub(port, 'dev2mqtt/t1/led0/cmd/blink', '{"onMs":100,"offMs":400,"id":"b"}');
    expect(await result('led0', 'b')).toMatchObject({ ok: true, result: { trigger: 'timer', delayOnMs: 100, delayOffMs: 400 } });
    await pub(port, 'dev2mqtt/t1/led0/cmd/trigger', '{"name":"rainbow","id":"t"}');
    const bad = await result('led0', 't');
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_args' } });
    expect(String((bad.error as { message: string }).message)).toContain('valid: none, timer');

    await pub(port, 'dev2mqtt/t1/relay/cmd/set', '1');
    await s.next((l) => l.topic === 'dev2mqtt/t1/relay/state' && l.payload.includes('"value":1'), 'the relay on');
    await pub(port, 'dev2mqtt/t1/relay/cmd/pulse', '{"ms":30,"id":"p"}');
    expect(await result('relay', 'p')).toMatchObject({ ok: true, result: { value: 1, pulsedMs: 30 } });
    await pub(port, 'dev2mqtt/t1/relay/cmd/set', '{"value":"maybe","id":"m"}');
    expect(await result('relay', 'm')).toMatchObject({ ok: false, error: { code: 'bad_args' } });
  });

  it('an LED that disappears: device_error ENOENT, offline on its availability topic, online again once back', async () => {
    const { port, sub: s, result } = await demo(0);
    const avail = 'dev2mqtt/t1/led0/availability';
    await s.next((l) => l.topic === avail && l.payload === 'online', 'the LED online');
    const led = agent?.devices.get('led0')?.device as LedDevice;
    // The sim's tree, as udev would see it: the LED's class device goes away and comes back.
    const tree = led.sysfs as SimSysfs;
    tree.unplug(led.dir);
    await pub(port, 'dev2mqtt/t1/led0/cmd/get', '{"id":"g"}');
    expect(await result('led0', 'g')).toMatchObject({ ok: false, error: { code: 'device_error', errno: 'ENOENT' } });
    await s.next((l) => l.topic === avail && l.payload === 'offline', 'the LED offline');
    const offlineAt = s.lines.length;
    tree.replug(led.dir);
    await s.next((l) => l.topic === avail && l.payload === 'online' && s.lines.indexOf(l) >= offlineAt, 'the LED online again');
    await pub(port, 'dev2mqtt/t1/led0/cmd/set', '{"value":"OFF","id":"after"}');
    expect(await result('led0', 'after')).toMatchObject({ ok: true, result: { state: 'OFF' } });
  });

  it('stopping the agent releases the lines it held (consumer dev2mqtt)', async () => {
    const { sub: s } = await demo(0);
    await s.next((l) => l.topic === 'dev2mqtt/t1/relay/state', 'the relay state');
    // Each sim device has its own chip model; ask it through the kernel seam, as gpioinfo would.
    const lines = ['relay', 'button'].map((id) => {
      const line = (agent?.devices.get(id)?.device as GpioDevice).backend as CdevLine;
      return { kernel: line.kernel, offset: line.offset ?? -1 };
    });
    const holders = (): string[] =>
      lines.map(({ kernel, offset }) => {
        const chip = kernel.open('/dev/gpiochip0', O.RDWR);
        try {
          const info = lineInfo(chip, kernel.arch, offset);
          return info.flags & FLAG.USED ? info.consumer : '(free)';
        } finally {
          chip.close();
        }
      });
    expect(holders()).toEqual(['dev2mqtt', 'dev2mqtt']);
    await agent?.stop();
    expect(holders()).toEqual(['(free)', '(free)']);
  });
});
