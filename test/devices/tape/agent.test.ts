/**
 * The tape kind inside the agent: a long rewind holds only its own drive,
 * a command waiting behind it times out with `busy`, and the talk's
 * procedure runs as one batch sent with mosquitto_pub, its result and
 * progress read with mosquitto_sub.
 *
 * The other device here is the agent's `probe` test kind: main has no LED
 * kind yet, and the probe answers at once, which is all the check needs.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import type { TapeDevice } from '../../../src/devices/tape/device.js';
import type { SimTapeKernel } from '../../../src/devices/tape/sim/kernel.js';
import { startAgent, tempDir } from '../../helpers/agent.js';
import { TestClient } from '../../helpers/mqtt-client.js';
import { requireTool } from '../../helpers/tools.js';

const FAST = { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1e12 };

let agent: Agent | undefined;
let client: TestClient | undefined;
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill();
  await client?.end();
  await agent?.stop();
  agent = undefined;
  client = undefined;
});

function simOf(a: Agent, id: string): SimTapeKernel {
  const rt = a.devices.get(id);
  if (!rt) throw new Error(`no device ${id}`);
  return (rt.device as TapeDevice).ctx.kernel as SimTapeKernel;
}

describe('tape in the agent', () => {
  it('a 30 s simulated rewind delays no other device; a command queued behind it times out with busy', async () => {
    agent = await startAgent({
      config: {
        devices: [
          { id: 'tape0', kind: 'tape', sim: true, options: { pollMs: 0, sim: { timing: { ...FAST, rewindMs: 30_000 } } } },
          { id: 'p1', kind: 'probe' },
        ],
      },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(['dev2mqtt/t1/+/result', 'dev2mqtt/t1/tape0/state']);
    expect(await client.command('dev2mqtt/t1/tape0/cmd/write', { data: 'x' }, 'w1')).toMatchObject({ ok: true });

    const done: string[] = [];
    const track = (topic: string, id: string): Promise<Record<string, unknown>> =>
      client!.result(topic, id, 60_000).then((r) => {
        done.push(id);
        return r;
      });
    await client.publish('dev2mqtt/t1/tape0/cmd/rewind', JSON.stringify({ id: 'rew' }));
    const rewind = track('dev2mqtt/t1/tape0/result', 'rew');
    const busy = await client.next((m) => m.topic === 'dev2mqtt/t1/tape0/state' && m.payload.includes('"command":"rewind"'), 20_000, 'busy state');
    expect(JSON.parse(busy.payload)).toMatchObject({ busy: { command: 'rewind', sinceMs: expect.any(Number) } });

    // Queued behind the rewind, with a short timeout of its own.
    await client.publish('dev2mqtt/t1/tape0/cmd/status', JSON.stringify({ id: 'st-short', timeoutMs: 300 }));
    const short = track('dev2mqtt/t1/tape0/result', 'st-short');
    await client.publish('dev2mqtt/t1/tape0/cmd/status', JSON.stringify({ id: 'st-wait', timeoutMs: 120_000 }));
    const waiting = track('dev2mqtt/t1/tape0/result', 'st-wait');
    const probes = [1, 2, 3, 4, 5].map(async (i) => {
      await client!.publish('dev2mqtt/t1/p1/cmd/echo', JSON.stringify({ id: `p${i}`, value: i }));
      return track('dev2mqtt/t1/p1/result', `p${i}`);
    });
    const probeResults = await Promise.all(probes);
    expect(probeResults.every((r) => r.ok === true)).toBe(true);
    expect(await short).toMatchObject({ ok: false, error: { code: 'busy' } });
    expect(done).not.toContain('rew');
    expect(simOf(agent, 'tape0').inFlight).toBe('MTREW');

    // End the simulated wait; the rewind completes and the queued status runs after it.
    simOf(agent, 'tape0').finishNow();
    expect(await rewind).toMatchObject({ ok: true, result: { bot: true, fileNumber: 0, blockNumber: 0 } });
    expect(await waiting).toMatchObject({ ok: true, result: { bot: true } });
    expect(done.slice(-2)).toEqual(['rew', 'st-wait']);
    expect(done.filter((id) => id.startsWith('p'))).toHaveLength(5);
    expect(done.indexOf('rew')).toBeGreaterThan(Math.max(...['p1', 'p2', 'p3', 'p4', 'p5', 'st-short'].map((id) => done.indexOf(id))));
  });
});

const haveClients = requireTool('mosquitto_pub', 'publishes as users do') && requireTool('mosquitto_sub', 'subscribes as users do')
  && requireTool('stdbuf', 'line-buffers mosquitto_sub');

/** mosquitto_sub -v on the given topics; resolves once its SUBACK arrived. */
async function mosquittoSub(port: number, topics: string[]): Promise<{ lines: string[]; until(pred: (l: string) => boolean, what: string): Promise<string> }> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-v', '-d', ...topics.flatMap((t) => ['-t', t])];
  // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe; lines must arrive as they happen.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...args]);
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (const w of waiters.splice(0)) {
        if (w.pred(l)) w.resolve(l);
        else waiters.push(w);
      }
    }
  });
  const until = (pred: (l: string) => boolean, what: string): Promise<string> => {
    const hit = lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`mosquitto_sub: no ${what}; got:\n${lines.join('\n')}`)), 30_000);
      waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  };
  await until((l) => l.includes('SUBACK'), 'SUBACK');
  return { lines, until };
}

function mosquittoPub(port: number, topic: string, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', message]);
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}: ${err}`))));
  });
}

describe.skipIf(!haveClients)("tape over MQTT with the mosquitto clients", () => {
  it("the talk's procedure as one batch from mosquitto_pub; result and progress on mosquitto_sub", async () => {
    const files = tempDir('dev2mqtt-tapefiles-');
    fs.writeFileSync(path.join(files, 'backup.tar'), Buffer.alloc(3 * 1024 * 1024, 7));
    agent = await startAgent({
      config: {
        devices: [{
          id: 'tape0', kind: 'tape', sim: true,
          options: { pollMs: 0, filesDir: files, sim: { timing: { ...FAST, bytesPerS: 2 * 1024 * 1024 } } },
        }],
      },
    });
    const port = agent.brokerPort as number;
    const sub = await mosquittoSub(port, ['dev2mqtt/t1/result', 'dev2mqtt/t1/tape0/event']);
    const batch = {
      id: 'talk',
      device: 'tape0',
      steps: [
        { command: 'status', args: { requireOnline: true, requireWritable: true } },
        { command: 'rewind' },
        { command: 'write', args: { data: 'label: nightly' } },
        { command: 'writeFile', args: { name: 'backup.tar' } },
        { command: 'weof' },
        { command: 'unload' },
      ],
    };
    await mosquittoPub(port, 'dev2mqtt/t1/cmd/batch', JSON.stringify(batch));
    const line = await sub.until((l) => l.startsWith('dev2mqtt/t1/result ') && l.includes('"talk"'), 'batch result');
    const result = JSON.parse(line.slice('dev2mqtt/t1/result '.length)) as { ok: boolean; result: { steps: Array<{ command: string; ok: boolean; result: Record<string, unknown> }> } };
    expect(result.ok).toBe(true);
    expect(result.result.steps.map((s) => `${s.command}:${s.ok}`)).toEqual(['status:true', 'rewind:true', 'write:true', 'writeFile:true', 'weof:true', 'unload:true']);
    expect(result.result.steps[3]?.result).toMatchObject({ bytes: 3 * 1024 * 1024, records: 48 });
    expect(result.result.steps[4]?.result).toMatchObject({ fileNumber: 1, blockNumber: 0, eof: true });
    expect(result.result.steps[5]?.result).toMatchObject({ doorOpen: true, online: false });

    const progress = sub.lines.filter((l) => l.startsWith('dev2mqtt/t1/tape0/event ')).map((l) => JSON.parse(l.slice('dev2mqtt/t1/tape0/event '.length)) as Record<string, unknown>);
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p).toMatchObject({ type: 'progress', total: 3 * 1024 * 1024, bytes: expect.any(Number), rateBytesPerS: expect.any(Number) });

    // The same procedure on a write-protected cartridge stops at the first step.
    const refused = { ...batch, id: 'talk-2' };
    // Another cartridge, with its tab set: st learns it at the load.
    simOf(agent, 'tape0').model.setWriteProtectTab(true);
    await mosquittoPub(port, 'dev2mqtt/t1/tape0/cmd/load', '{}');
    await mosquittoPub(port, 'dev2mqtt/t1/cmd/batch', JSON.stringify(refused));
    const line2 = await sub.until((l) => l.startsWith('dev2mqtt/t1/result ') && l.includes('"talk-2"'), 'second batch result');
    const r2 = JSON.parse(line2.slice('dev2mqtt/t1/result '.length)) as Record<string, unknown>;
    expect(r2).toMatchObject({ ok: false, error: { code: 'device_error', reason: 'write_protected' }, result: { steps: [{ command: 'status', ok: false }] } });
  });
});
