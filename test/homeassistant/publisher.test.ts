/**
 * The discovery publisher without a broker: what it puts on the wire at a
 * connect, what it takes back (devices gone, entities gone, the first
 * scheme's topics once), what it remembers, and how it answers Home
 * Assistant's birth message (fake timers: the birth delay is jittered).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TopicScheme } from '../../src/agent/topics.js';
import { gpioKind } from '../../src/devices/gpio/kind.js';
import { defineKind, type AnyKind } from '../../src/devices/kind.js';
import { ledKind } from '../../src/devices/led/kind.js';
import type { DiscoveryDevice, DiscoveryForm } from '../../src/homeassistant/discovery.js';
import { DiscoveryPublisher } from '../../src/homeassistant/publisher.js';
import { s } from '../../src/schema/schema.js';
import type { InboundMessage, PublishOptions, Transport } from '../../src/transport/transport.js';
import { tempDir } from '../helpers/agent.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'n1', groups: [] };
const NODE = 'homeassistant/device/n1/config';
const LED = 'homeassistant/device/n1/led0/config';

class FakeTransport implements Transport {
  readonly protocolVersion = 5 as const;
  connected = true;
  readonly server = 'mqtt://fake:1883';
  fail = false;
  /** Topics whose publish the broker refuses (an ACL). */
  readonly refused = new Set<string>();
  readonly sent: Array<{ topic: string; payload: string; opts: PublishOptions | undefined }> = [];
  start(): void {}
  reconnect(): void {}
  async subscribe(): Promise<void> {}
  async stop(): Promise<void> {}
  async publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void> {
    if (this.fail || this.refused.has(topic)) throw new Error('not authorized');
    this.sent.push({ topic, payload: payload.toString(), opts });
  }
  topics(empty: boolean): string[] {
    return this.sent.filter((x) => (x.payload === '') === empty).map((x) => x.topic);
  }
}

function parsed<O>(kind: AnyKind, options: unknown): O {
  const r = (kind.options(true) as ReturnType<typeof ledKind.options>).parse(options);
  if (!r.ok) throw new Error('options do not parse');
  return r.value as O;
}
const led: DiscoveryDevice = {
  id: 'led0',
  name: 'LED',
  sim: true,
  options: parsed(ledKind, {}),
  kind: ledKind as AnyKind,
  state: undefined,
};
const button = (edge: string): DiscoveryDevice => ({
  id: 'btn',
  name: 'Button',
  sim: true,
  options: parsed(gpioKind as AnyKind, { line: 3, edge }),
  kind: gpioKind as AnyKind,
  state: undefined,
});
const throwing = defineKind({
  kind: 'broken',
  title: 'throws in homeassistant()',
  options: () => s.object({}),
  commands: {},
  create: () => ({ open: async () => undefined, close: async () => undefined, state: () => ({}) }),
  homeassistant: () => {
    throw new Error('no entities today');
  },
}) as AnyKind;

interface Setup {
  log?: Logger;
  enabled?: boolean;
  stateDir?: string;
  devices?: () => DiscoveryDevice[];
  transport?: FakeTransport;
  form?: DiscoveryForm;
}

function publisher(o: Setup = {}) {
  const transport = o.transport ?? new FakeTransport();
  const stateDir = o.stateDir ?? tempDir('dev2mqtt-ha-');
  const p = new DiscoveryPublisher({
    transport,
    settings:
      o.enabled === false
        ? undefined
        : { prefix: 'homeassistant', topics: T, version: '1.2.3', qos: 1, form: o.form ?? 'device', node: {} },
    statusTopic: 'homeassistant/status',
    devices: o.devices ?? (() => [led]),
    stateDir,
    log: o.log ?? pino({ level: 'silent' }),
  });
  return { p, transport, stateDir, memory: path.join(stateDir, 'homeassistant-discovery.json') };
}

const remembered = (file: string) =>
  JSON.parse(readFileSync(file, 'utf8')) as { version: number; published: Record<string, Record<string, string>> };

const msg = (payload: string, retain = false): InboundMessage => ({
  topic: 'homeassistant/status',
  payload: Buffer.from(payload),
  qos: 1,
  dup: false,
  retain,
  receivedAt: 0,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('discovery publisher', () => {
  it('publishes one retained QoS 1 config for the node and one per device, and remembers their entities', async () => {
    const { p, transport, memory } = publisher();
    expect(await p.announce()).toBe(2);
    expect(transport.topics(false).sort()).toEqual([NODE, LED]);
    for (const x of transport.sent) expect(x.opts).toEqual({ qos: 1, retain: true });
    expect(remembered(memory)).toEqual({
      version: 2,
      published: {
        [LED]: { light: 'light' },
        [NODE]: {
          sensor_uptime: 'sensor',
          sensor_rss: 'sensor',
          sensor_commands_per_minute: 'sensor',
          sensor_last_error: 'sensor',
          binary_sensor_journal: 'binary_sensor',
          button_announce: 'button',
        },
      },
    });
  });

  it('in the per-entity form, publishes one config per entity under the node level', async () => {
    const { p, transport } = publisher({ form: 'entity' });
    await p.announce();
    const topics = transport.topics(false);
    expect(topics).toContain('homeassistant/light/n1/led0/config');
    expect(topics).toContain('homeassistant/sensor/n1/agent_uptime/config');
    expect(topics).toContain('homeassistant/button/n1/agent_announce/config');
    expect(topics).toHaveLength(7);
  });

  it("on upgrade, clears the first scheme's topics once, before it publishes the new ones", async () => {
    const { p, transport, memory } = publisher();
    writeFileSync(memory, JSON.stringify({ published: ['homeassistant/light/n1_led0/config', 'homeassistant/switch/n1_gone/config'] }));
    await p.announce();
    const cleared = transport.topics(true);
    // The remembered ones, and where the first scheme put what this run publishes (also when the file is lost).
    expect(cleared).toEqual(expect.arrayContaining(['homeassistant/light/n1_led0/config', 'homeassistant/switch/n1_gone/config']));
    expect(cleared).toContain('homeassistant/sensor/n1_agent_uptime/config');
    const firstConfig = transport.sent.findIndex((x) => x.payload !== '');
    expect(transport.sent.slice(firstConfig).every((x) => x.payload !== '')).toBe(true);
    expect(remembered(memory).version).toBe(2);
    transport.sent.length = 0;
    await p.announce();
    expect(transport.topics(true)).toEqual([]);
  });

  it('clears the config of a device gone from the config', async () => {
    const first = publisher({ devices: () => [led, button('both')] });
    await first.p.announce();
    const { p, transport, memory } = publisher({ stateDir: first.stateDir });
    await p.announce();
    expect(transport.topics(true)).toEqual(['homeassistant/device/n1/btn/config']);
    expect(Object.keys(remembered(memory).published)).not.toContain('homeassistant/device/n1/btn/config');
  });

  it("removes an entity gone from a device's config with HA's platform-only entry, once", async () => {
    let edge = 'both';
    const { p, transport, memory } = publisher({ devices: () => [button(edge)] });
    await p.announce();
    const topic = 'homeassistant/device/n1/btn/config';
    const cmps = () =>
      (JSON.parse(transport.sent.filter((x) => x.topic === topic).at(-1)!.payload) as { cmps: Record<string, unknown> }).cmps;
    expect(Object.keys(cmps()).sort()).toEqual(['binary_sensor', 'event_event']);
    edge = 'none';
    await p.announce();
    expect(cmps().event_event).toEqual({ p: 'event' });
    expect(remembered(memory).published[topic]).toEqual({ binary_sensor: 'binary_sensor' });
    await p.announce();
    expect(Object.keys(cmps())).toEqual(['binary_sensor']);
  });

  it('with discovery switched off, clears everything it published before and subscribes to nothing', async () => {
    const first = publisher();
    await first.p.announce();
    const { p, transport, memory } = publisher({ enabled: false, stateDir: first.stateDir });
    expect(p.subscription).toBeUndefined();
    expect(p.handles('homeassistant/status')).toBe(false);
    await p.announce();
    expect(transport.topics(true).sort()).toEqual([NODE, LED]);
    expect(transport.topics(false)).toEqual([]);
    expect(remembered(memory)).toEqual({ version: 2, published: {} });
  });

  it('keeps the old list when a publish fails, so the stale configs are cleared on a later connect', async () => {
    const transport = new FakeTransport();
    const { p, memory } = publisher({ transport });
    writeFileSync(memory, JSON.stringify({ version: 2, published: { 'homeassistant/device/n1/gone/config': {} } }));
    transport.fail = true;
    expect(await p.announce()).toBe(0);
    expect(Object.keys(remembered(memory).published)).toEqual(['homeassistant/device/n1/gone/config']);
    transport.fail = false;
    await p.announce();
    expect(transport.topics(true)).toEqual(['homeassistant/device/n1/gone/config']);
  });

  it('publishes the new configs even when the broker refuses clearing an old one, and tries again next time', async () => {
    const transport = new FakeTransport();
    const { p, memory } = publisher({ transport });
    transport.refused.add('homeassistant/light/n1_led0/config');
    await p.announce();
    expect(transport.topics(false).sort()).toEqual([NODE, LED]);
    expect(Object.keys(remembered(memory).published)).toContain('homeassistant/light/n1_led0/config');
    transport.refused.clear();
    transport.sent.length = 0;
    await p.announce();
    expect(transport.topics(true)).toEqual(['homeassistant/light/n1_led0/config']);
    expect(Object.keys(remembered(memory).published)).not.toContain('homeassistant/light/n1_led0/config');
  });

  it('with a state dir it cannot write, still clears the first scheme once, and does not retry the file at every change', async () => {
    vi.useFakeTimers();
    const notADir = path.join(tempDir('dev2mqtt-ha-'), 'file');
    writeFileSync(notADir, '');
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    let brightness = 0;
    const devices = () => [{ ...led, state: { state: 'OFF', brightness, maxBrightness: 255, trigger: 'none', triggers: ['none'] } }];
    const { p, transport } = publisher({ stateDir: path.join(notADir, 'state'), log, devices });
    await p.announce();
    const cleared = transport.topics(true);
    expect(cleared).toContain('homeassistant/light/n1_led0/config');
    expect(lines.filter((l) => l.includes('could not remember'))).toHaveLength(1);
    transport.sent.length = 0;
    await p.announce();
    expect(transport.topics(true)).toEqual([]);
    // State changes (the config stays the same): no new attempt at the file, no new warning each time.
    for (brightness = 1; brightness <= 5; brightness++) {
      p.deviceChanged();
      await vi.advanceTimersByTimeAsync(2000);
    }
    expect(lines.filter((l) => l.includes('could not remember'))).toHaveLength(1);
    p.stop();
  });

  it('looks at a burst of state changes once, a second after it starts, not once per change', async () => {
    vi.useFakeTimers();
    let looked = 0;
    const { p } = publisher({ devices: () => (looked++, [led]) });
    await p.announce();
    looked = 0;
    for (let i = 0; i < 50; i++) {
      p.deviceChanged();
      await vi.advanceTimersByTimeAsync(10);
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(looked).toBe(1);
    p.stop();
  });

  it('after a state change, republishes only the configs that changed, and only after the first announce', async () => {
    vi.useFakeTimers();
    let state: Record<string, unknown> | undefined = undefined;
    const { p, transport } = publisher({ devices: () => [{ ...led, sim: false, state }] });
    p.deviceChanged();
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.sent).toEqual([]);
    await p.announce();
    transport.sent.length = 0;
    p.deviceChanged();
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.sent).toEqual([]);
    state = { state: 'OFF', brightness: 0, maxBrightness: 1, trigger: 'none', triggers: ['none', 'mmc0', 'actpwr'] };
    p.deviceChanged();
    p.deviceChanged();
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.topics(false)).toEqual([LED]);
    const light = (JSON.parse(transport.sent[0]!.payload) as { cmps: { light: Record<string, unknown> } }).cmps.light;
    expect(light).toMatchObject({ brightness_scale: 1, effect_list: ['none', 'mmc0', 'actpwr'] });
    p.stop();
  });

  it('republishes after a live `online` on the status topic, not after a retained one or `offline`', async () => {
    vi.useFakeTimers();
    const { p, transport } = publisher();
    expect(p.subscription).toBe('homeassistant/status');
    expect(p.handles('homeassistant/status')).toBe(true);
    expect(p.handles('dev2mqtt/n1/cmd/ping')).toBe(false);
    p.onMessage(msg('online', true));
    p.onMessage(msg('offline'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.sent).toEqual([]);
    p.onMessage(msg('online'));
    p.onMessage(msg('online'));
    await vi.advanceTimersByTimeAsync(5000);
    // Two births in a row: one republish (after the first run's clearing of the first scheme's topics).
    expect(transport.topics(false)).toHaveLength(2);
    p.stop();
    p.onMessage(msg('online'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.topics(false)).toHaveLength(2);
  });

  it("leaves out a kind whose declaration throws, and still publishes the others'", async () => {
    const broken = { ...led, id: 'x1', kind: throwing };
    const { p, transport } = publisher({ devices: () => [broken, led] });
    await p.announce();
    expect(transport.topics(false)).toContain(LED);
    expect(transport.sent.some((x) => x.topic.includes('/x1/'))).toBe(false);
  });

  it("announces once the devices' first open is over, or after 5 s when one never ends", async () => {
    vi.useFakeTimers();
    const { p, transport } = publisher();
    let opened!: () => void;
    const done = p.announceAfter(new Promise<void>((resolve) => (opened = resolve)));
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.topics(false)).toEqual([]);
    opened();
    expect(await done).toBe(2);
    transport.sent.length = 0;
    const stuck = p.announceAfter(new Promise(() => undefined));
    await vi.advanceTimersByTimeAsync(4900);
    expect(transport.topics(false)).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(await stuck).toBe(2);
  });

  it('publishes nothing while disconnected', async () => {
    const transport = new FakeTransport();
    transport.connected = false;
    const { p } = publisher({ transport });
    expect(await p.announce()).toBe(0);
    expect(transport.sent).toEqual([]);
  });
});
