/**
 * The discovery publisher without a broker: what it puts on the wire at a
 * connect, what it clears, what it remembers, and how it answers Home
 * Assistant's birth message (fake timers: the birth delay is jittered).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TopicScheme } from '../../src/agent/topics.js';
import { ledKind } from '../../src/devices/led/kind.js';
import { defineKind, type AnyKind } from '../../src/devices/kind.js';
import { DiscoveryPublisher } from '../../src/homeassistant/publisher.js';
import { s } from '../../src/schema/schema.js';
import type { InboundMessage, PublishOptions, Transport } from '../../src/transport/transport.js';
import { tempDir } from '../helpers/agent.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'n1', groups: [] };

class FakeTransport implements Transport {
  readonly protocolVersion = 5 as const;
  connected = true;
  readonly server = 'mqtt://fake:1883';
  fail = false;
  readonly sent: Array<{ topic: string; payload: string; opts: PublishOptions | undefined }> = [];
  start(): void {}
  reconnect(): void {}
  async subscribe(): Promise<void> {}
  async stop(): Promise<void> {}
  async publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void> {
    if (this.fail) throw new Error('connection lost');
    this.sent.push({ topic, payload: payload.toString(), opts });
  }
}

const ledOptions = ledKind.options(true).parse({});
if (!ledOptions.ok) throw new Error('led defaults do not parse');
const led = { id: 'led0', name: 'LED', sim: true, options: ledOptions.value, kind: ledKind as AnyKind };
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

function publisher(o: { enabled?: boolean; stateDir?: string; devices?: Array<typeof led>; transport?: FakeTransport } = {}) {
  const transport = o.transport ?? new FakeTransport();
  const stateDir = o.stateDir ?? tempDir('dev2mqtt-ha-');
  const p = new DiscoveryPublisher({
    transport,
    settings: o.enabled === false ? undefined : { prefix: 'homeassistant', topics: T, version: '1.2.3', qos: 1 },
    statusTopic: 'homeassistant/status',
    devices: () => o.devices ?? [led],
    stateDir,
    log: pino({ level: 'silent' }),
  });
  return { p, transport, stateDir, memory: path.join(stateDir, 'homeassistant-discovery.json') };
}

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
  it('publishes retained QoS 1 configs for the node and each device, and remembers them', async () => {
    const { p, transport, memory } = publisher();
    await p.announce();
    const topics = transport.sent.map((x) => x.topic).sort();
    expect(topics).toEqual([
      'homeassistant/light/n1_led0/config',
      'homeassistant/sensor/n1_agent_rss/config',
      'homeassistant/sensor/n1_agent_uptime/config',
    ]);
    for (const x of transport.sent) expect(x.opts).toEqual({ qos: 1, retain: true });
    expect(JSON.parse(readFileSync(memory, 'utf8'))).toEqual({ published: topics });
  });

  it('clears what an earlier run published and this one does not, with empty retained payloads', async () => {
    const { p, transport, memory } = publisher();
    writeFileSync(
      memory,
      JSON.stringify({
        published: ['homeassistant/switch/n1_relay/config', 'homeassistant/light/n1_led0/config', 'other/prefix/x/config'],
      }),
    );
    await p.announce();
    const cleared = transport.sent
      .filter((x) => x.payload === '')
      .map((x) => x.topic)
      .sort();
    expect(cleared).toEqual(['homeassistant/switch/n1_relay/config', 'other/prefix/x/config']);
    expect(transport.sent.filter((x) => x.payload !== '').map((x) => x.topic)).toContain('homeassistant/light/n1_led0/config');
    expect((JSON.parse(readFileSync(memory, 'utf8')) as { published: string[] }).published).not.toContain(
      'homeassistant/switch/n1_relay/config',
    );
    // Nothing left to clear the next time.
    transport.sent.length = 0;
    await p.announce();
    expect(transport.sent.filter((x) => x.payload === '')).toEqual([]);
  });

  it('with discovery switched off, clears everything it published before and subscribes to nothing', async () => {
    const first = publisher();
    await first.p.announce();
    const { p, transport, memory } = publisher({ enabled: false, stateDir: first.stateDir });
    expect(p.subscription).toBeUndefined();
    expect(p.handles('homeassistant/status')).toBe(false);
    await p.announce();
    expect(transport.sent.map((x) => x.payload)).toEqual(['', '', '']);
    expect(transport.sent.map((x) => x.topic).sort()).toEqual(first.transport.sent.map((x) => x.topic).sort());
    expect(JSON.parse(readFileSync(memory, 'utf8'))).toEqual({ published: [] });
  });

  it('keeps the old list when a publish fails, so the stale configs are cleared on a later connect', async () => {
    const transport = new FakeTransport();
    const { p, memory } = publisher({ transport });
    writeFileSync(memory, JSON.stringify({ published: ['homeassistant/switch/n1_relay/config'] }));
    transport.fail = true;
    await p.announce();
    expect(JSON.parse(readFileSync(memory, 'utf8'))).toEqual({ published: ['homeassistant/switch/n1_relay/config'] });
    transport.fail = false;
    await p.announce();
    expect(transport.sent.filter((x) => x.payload === '').map((x) => x.topic)).toEqual(['homeassistant/switch/n1_relay/config']);
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
    // Two births in a row: one republish.
    expect(transport.sent).toHaveLength(3);
    p.stop();
    p.onMessage(msg('online'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(transport.sent).toHaveLength(3);
  });

  it("leaves out a kind whose declaration throws, and still publishes the others'", async () => {
    const broken = { ...led, id: 'x1', kind: throwing };
    const { p, transport } = publisher({ devices: [broken, led] });
    await p.announce();
    expect(transport.sent.map((x) => x.topic)).toContain('homeassistant/light/n1_led0/config');
    expect(transport.sent.some((x) => x.topic.includes('n1_x1'))).toBe(false);
  });

  it('publishes nothing while disconnected', async () => {
    const transport = new FakeTransport();
    transport.connected = false;
    const { p } = publisher({ transport });
    await p.announce();
    expect(transport.sent).toEqual([]);
  });
});
