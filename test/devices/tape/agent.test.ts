/**
 * The tape kind inside the agent, on a broker (mosquitto where it is installed,
 * else aedes): a long rewind holds
 * only its own drive (an LED answers meanwhile as it does on an idle agent),
 * a command queued behind it times out with `busy`, and the talk's
 * procedure runs as one batch sent with mosquitto_pub, its result and
 * progress read with mosquitto_sub.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import type { TapeDevice } from '../../../src/devices/tape/device.js';
import type { SimTapeKernel } from '../../../src/devices/tape/sim/kernel.js';
import { startAgent, tempDir } from '../../helpers/agent.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { mosquittoPub, mosquittoSub } from '../../helpers/mosquitto.js';
import { TestClient } from '../../helpers/mqtt-client.js';
import { deadline } from '../../helpers/deadline.js';

const FAST = { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1e12 };

let agent: Agent | undefined;
let client: TestClient | undefined;
let broker: TestBroker | undefined;
afterEach(async () => {
  await client?.end();
  await agent?.stop();
  await broker?.stop();
  agent = undefined;
  client = undefined;
  broker = undefined;
});

function simOf(a: Agent, id: string): SimTapeKernel {
  const rt = a.devices.get(id);
  if (!rt) throw new Error(`no device ${id}`);
  return (rt.device as TapeDevice).ctx.kernel as SimTapeKernel;
}

async function agentOn(devices: unknown[]): Promise<{ agent: Agent; port: number }> {
  broker = await startBroker();
  agent = await startAgent({ config: { mqtt: { url: broker.url, protocolVersion: broker.protocolVersion }, devices } });
  return { agent, port: broker.port };
}

/** Sends the LED `count` set commands and returns their ids in the order their results came. */
async function ledRound(c: TestClient, tag: string, order: string[]): Promise<void> {
  await Promise.all(
    [1, 2, 3, 4, 5].map(async (i) => {
      const id = `${tag}${i}`;
      await c.publish('dev2mqtt/t1/led0/cmd/set', JSON.stringify({ id, brightness: 10 * i }));
      const r = await c.result('dev2mqtt/t1/led0/result', id, 60_000);
      expect(r).toMatchObject({ ok: true });
      order.push(id);
    }),
  );
}

describe('tape in the agent', () => {
  it('a long simulated rewind delays no other device; a command queued behind it times out with busy', async () => {
    // A rewind long enough to outlast the LED rounds however slow the machine (finishNow ends it), and
    // short enough that one holding the event loop would fail the test rather than hang it.
    const { agent: a, port } = await agentOn([
      { id: 'tape0', kind: 'tape', sim: true, options: { pollMs: 0, sim: { timing: { ...FAST, rewindMs: deadline(30_000) } } } },
      { id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } },
    ]);
    client = await TestClient.connect(`mqtt://127.0.0.1:${port}`);
    await client.subscribe(['dev2mqtt/t1/+/result', 'dev2mqtt/t1/tape0/state']);
    expect(await client.command('dev2mqtt/t1/tape0/cmd/write', { data: 'x' }, 'w1')).toMatchObject({ ok: true });

    // The LED on an idle agent: every command answered, in the order they finish.
    const done: string[] = [];
    await ledRound(client, 'idle', done);

    await client.publish('dev2mqtt/t1/tape0/cmd/rewind', JSON.stringify({ id: 'rew' }));
    const rewind = client.result('dev2mqtt/t1/tape0/result', 'rew', 60_000).then((r) => {
      done.push('rew');
      return r;
    });
    const busy = await client.next(
      (m) => m.topic === 'dev2mqtt/t1/tape0/state' && m.payload.includes('"command":"rewind"'),
      20_000,
      'busy state',
    );
    expect(JSON.parse(busy.payload)).toMatchObject({ busy: { command: 'rewind', sinceMs: expect.any(Number) } });

    // Queued behind the rewind: one with a short timeout of its own, one that waits.
    await client.publish('dev2mqtt/t1/tape0/cmd/status', JSON.stringify({ id: 'st-short', timeoutMs: 300 }));
    const short = client.result('dev2mqtt/t1/tape0/result', 'st-short', 60_000).then((r) => {
      done.push('st-short');
      return r;
    });
    // The longest timeout a command may ask for (a day): it waits for the rewind, however slow the machine.
    await client.publish('dev2mqtt/t1/tape0/cmd/status', JSON.stringify({ id: 'st-wait', timeoutMs: 86_400_000 }));
    const waiting = client.result('dev2mqtt/t1/tape0/result', 'st-wait', 120_000).then((r) => {
      done.push('st-wait');
      return r;
    });

    // The LED during the rewind: the same five answers, while the drive is still rewinding.
    await ledRound(client, 'busy', done);
    expect(await short).toMatchObject({ ok: false, error: { code: 'busy' } });
    expect(simOf(a, 'tape0').inFlight).toBe('MTREW');
    expect(done.filter((id) => id.startsWith('busy'))).toHaveLength(5);
    expect(done).not.toContain('rew');

    // End the simulated wait: the rewind completes, then the status queued behind it runs.
    simOf(a, 'tape0').finishNow();
    expect(await rewind).toMatchObject({ ok: true, result: { bot: true, fileNumber: 0, blockNumber: 0 } });
    expect(await waiting).toMatchObject({ ok: true, result: { bot: true } });
    expect(done.slice(-2)).toEqual(['rew', 'st-wait']);
  });

  it("the talk's procedure as one batch from mosquitto_pub; result and progress on mosquitto_sub", async () => {
    const files = tempDir('dev2mqtt-tapefiles-');
    fs.writeFileSync(path.join(files, 'backup.tar'), Buffer.alloc(3 * 1024 * 1024, 7));
    const { agent: a, port } = await agentOn([
      {
        id: 'tape0',
        kind: 'tape',
        sim: true,
        options: { pollMs: 0, filesDir: files, sim: { timing: { ...FAST, bytesPerS: 2 * 1024 * 1024 } } },
      },
    ]);
    const results = await mosquittoSub(port, 'dev2mqtt/t1/result', { count: 1, timeoutS: 60 });
    const events = await mosquittoSub(port, 'dev2mqtt/t1/tape0/event', { count: 1, timeoutS: 60 });
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
    expect((await mosquittoPub(port, 'dev2mqtt/t1/cmd/batch', JSON.stringify(batch))).status).toBe(0);
    const [line] = await results.lines;
    const result = JSON.parse(line?.slice('dev2mqtt/t1/result '.length) ?? '{}') as {
      id: string;
      ok: boolean;
      result: { steps: Array<{ command: string; ok: boolean; result: Record<string, unknown> }> };
    };
    expect(result).toMatchObject({ id: 'talk', ok: true });
    expect(result.result.steps.map((s) => `${s.command}:${s.ok}`)).toEqual([
      'status:true',
      'rewind:true',
      'write:true',
      'writeFile:true',
      'weof:true',
      'unload:true',
    ]);
    expect(result.result.steps[2]?.result).toMatchObject({ bytes: 14, records: 1, fileNumber: 0, blockNumber: 1 });
    expect(result.result.steps[3]?.result).toMatchObject({ bytes: 3 * 1024 * 1024, records: 48, blockNumber: 49 });
    expect(result.result.steps[4]?.result).toMatchObject({ fileNumber: 1, blockNumber: 0, eof: true });
    expect(result.result.steps[5]?.result).toMatchObject({ doorOpen: true, online: false });
    const [event] = await events.lines;
    expect(JSON.parse(event?.slice('dev2mqtt/t1/tape0/event '.length) ?? '{}')).toMatchObject({
      type: 'progress',
      id: 'talk',
      command: 'batch',
      total: 3 * 1024 * 1024,
      bytes: expect.any(Number),
      rateBytesPerS: expect.any(Number),
    });

    // Another cartridge, with its tab set: the same procedure stops at its first step.
    simOf(a, 'tape0').model.setWriteProtectTab(true);
    expect((await mosquittoPub(port, 'dev2mqtt/t1/tape0/cmd/load', '{}')).status).toBe(0);
    const again = await mosquittoSub(port, 'dev2mqtt/t1/result', { count: 1, timeoutS: 60 });
    await mosquittoPub(port, 'dev2mqtt/t1/cmd/batch', JSON.stringify({ ...batch, id: 'talk-2' }));
    const [line2] = await again.lines;
    expect(JSON.parse(line2?.slice('dev2mqtt/t1/result '.length) ?? '{}')).toMatchObject({
      id: 'talk-2',
      ok: false,
      error: { code: 'device_error', reason: 'write_protected', message: expect.stringMatching(/write-protected/) },
      result: { steps: [{ command: 'status', ok: false }] },
    });
  });
});
