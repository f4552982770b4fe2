/**
 * The replay on reconnection, with a transport that only records (no
 * broker): what overflows the offline buffer *while* it is being replayed
 * is said at once, before the messages that follow the loss — not at the
 * next outage, maybe days later.
 */
import { describe, expect, it } from 'vitest';
import type { PublishOptions, Transport } from '../../src/transport/transport.js';
import { eventTelemetry } from '../helpers/transport.js';

class RecordingTransport implements Transport {
  readonly protocolVersion = 4;
  readonly server = 'mqtt://127.0.0.1:1883';
  connected = false;
  readonly sent: Array<{ topic: string; payload: Record<string, unknown> }> = [];
  onPublish: (topic: string, payload: Record<string, unknown>) => void = () => undefined;
  start(): void {}
  reconnect(): void {}
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  publish(topic: string, payload: string | Buffer, _opts?: PublishOptions): Promise<void> {
    const p = JSON.parse(payload.toString()) as Record<string, unknown>;
    this.sent.push({ topic, payload: p });
    this.onPublish(topic, p);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

describe('offline replay', () => {
  it('a loss while the replay runs is announced before the messages after it', async () => {
    const transport = new RecordingTransport();
    const telemetry = eventTelemetry(transport, 'dev2mqtt', { maxMessages: 4, maxBytes: 1 << 20, spill: false, spillMaxBytes: 0 });
    const edge = (n: number): void => telemetry.event('in0', 'edge', { n });
    // Away: six edges into a buffer of four, the two oldest dropped.
    for (let n = 0; n < 6; n++) edge(n);
    transport.connected = true;
    // Back: while the first kept edge is being published, six more come into the full buffer.
    let burst = false;
    transport.onPublish = (_topic, p) => {
      if (p.type !== 'edge' || burst) return;
      burst = true;
      for (let n = 6; n < 12; n++) edge(n);
    };
    expect(await telemetry.resume()).toBe(true);
    telemetry.stop();

    const events = transport.sent.filter((m) => m.topic === 'dev2mqtt/n1/in0/event').map((m) => m.payload);
    const seen = events.map((e) => (e.type === 'dropped' ? `dropped ${String(e.count)}` : String(e.n)));
    expect(seen).toEqual(['dropped 2', '2', '3', '4', '5', 'dropped 2', '8', '9', '10', '11']);
    expect(events.every((e) => e.replayed === true)).toBe(true);
  });
});
