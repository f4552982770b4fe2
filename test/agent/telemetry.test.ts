import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { LogOutput, type LogHealthListener } from '../../src/log-output.js';
import { startAgent } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { probes } from '../helpers/test-kinds.js';

let agent: Agent | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await client?.end();
  await agent?.stop();
});

describe('telemetry', () => {
  it('republishes node and device state every telemetry.intervalMs', async () => {
    agent = await startAgent({ config: { telemetry: { intervalMs: 1000 } } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['dev2mqtt/t1/state', 'dev2mqtt/t1/p1/state']);
    // The retained copy, then two periodic ones: each a fresh uptime/ts.
    await client.next(() => client!.on('dev2mqtt/t1/state').length >= 3, 20_000, 'three node states');
    await client.next(() => client!.on('dev2mqtt/t1/p1/state').length >= 3, 20_000, 'three device states');
    const ts = client.on('dev2mqtt/t1/state').map((m) => (JSON.parse(m.payload) as { ts: number }).ts);
    expect(new Set(ts).size).toBe(ts.length);
  });

  it('publishes events on the event topic with type and ts', async () => {
    agent = await startAgent();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/event');
    await client.publish('dev2mqtt/t1/p1/cmd/poke', '');
    const e = JSON.parse((await client.next((m) => m.topic === 'dev2mqtt/t1/p1/event')).payload) as Record<string, unknown>;
    expect(e).toMatchObject({ type: 'poke', count: 0 });
    expect(typeof e.ts).toBe('number');
  });

  it('a lost device goes offline, commands get unavailable, and it comes back on its own', async () => {
    agent = await startAgent();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['dev2mqtt/t1/p1/availability', 'dev2mqtt/t1/p1/result']);
    const r = await client.command('dev2mqtt/t1/p1/cmd/unplug', {}, 'u1');
    expect(r).toMatchObject({ ok: false, error: { code: 'device_error', errno: 'ENODEV' } });
    await client.next((m) => m.topic === 'dev2mqtt/t1/p1/availability' && m.payload === 'offline');
    expect(await client.command('dev2mqtt/t1/p1/cmd/count', {}, 'u2')).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    const p1 = probes.get('p1');
    if (p1) p1.present = true;
    const seen = client.on('dev2mqtt/t1/p1/availability').length;
    await client.next(
      (m) =>
        m.topic === 'dev2mqtt/t1/p1/availability' && m.payload === 'online' && client!.on('dev2mqtt/t1/p1/availability').indexOf(m) >= seen,
      20_000,
      'back online',
    );
    expect(await client.command('dev2mqtt/t1/p1/cmd/count', {}, 'u3')).toMatchObject({ ok: true });
  });

  it('node state carries log health; two agents sharing one log output each stop listening to it at stop', async () => {
    // /dev/full answers every write with ENOSPC: a log file on a full card, without root.
    const fd = openSync('/dev/full', 'w');
    class Counted extends LogOutput {
      listening = 0;
      override onHealth(l: LogHealthListener): () => void {
        this.listening++;
        const off = super.onHealth(l);
        return () => {
          this.listening--;
          off();
        };
      }
    }
    const output = new Counted(fd);
    const other = await startAgent({ config: { node: { id: 't2' } }, logOutput: output });
    try {
      agent = await startAgent({ logOutput: output });
      expect(output.listening).toBe(2);
      client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
      await client.subscribe('dev2mqtt/t1/state');
      const ok = await client.next((m) => m.topic === 'dev2mqtt/t1/state');
      expect(JSON.parse(ok.payload)).toMatchObject({ log: 'ok' });
      expect(JSON.parse(ok.payload)).not.toHaveProperty('logDropped');
      output.write('{"msg":"refused"}\n');
      output.write('{"msg":"refused too"}\n');
      const degraded = await client.next((m) => m.topic === 'dev2mqtt/t1/state' && m.payload.includes('"log":"degraded"'));
      expect(JSON.parse(degraded.payload)).toMatchObject({ logReason: expect.stringMatching(/^ENOSPC .* stdout/) as unknown });
      expect(output.health).toMatchObject({ state: 'degraded', errno: 'ENOSPC', dropped: 2 });
    } finally {
      await other.stop();
    }
    expect(output.listening).toBe(1);
    await agent.stop();
    agent = undefined;
    expect(output.listening).toBe(0);
    closeSync(fd);
  });
});
