/**
 * The README's walkthrough on the ABI itself: the tarball `npm pack` makes,
 * installed for armhf or arm64, `dev2mqtt run` on its config/default.json
 * with the embedded broker in that ABI's Node under qemu-user; the "Try it"
 * commands with the real mosquitto_pub, one command to each demo device
 * (LED, relay, button, modem, tape), each answered `ok`; then SIGTERM, and
 * a clean stop: `offline` published, exit 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/ports.mjs';
import { tempDir } from '../helpers/agent.js';
import { curatedDemoDevices } from '../helpers/demo-devices.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { demoDeviceOf, tryItPubLines } from '../helpers/readme.js';
import { requireTool } from '../helpers/tools.js';
import { emulatedAbi, spawnDev2mqtt } from './abi.js';

const abi = emulatedAbi();
const DEMO = curatedDemoDevices().map((d) => d.id);
/** Everything here waits on events; this only bounds a wait that never ends, under emulation on a loaded machine. */
const WAIT_MS = 240_000;

const haveMosquittoPub = requireTool('mosquitto_pub', 'the walkthrough sends its commands with mosquitto_pub');

/** The agent's output, line by line, with a way to wait for a line. */
class AgentProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<{ match: (l: string) => boolean; resolve: () => void }> = [];

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    const take = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => (w.match(line) ? (w.resolve(), false) : true));
      }
    };
    proc.stdout.on('data', take);
    proc.stderr.on('data', take);
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves on the first line that matches; rejects, with the output so far, if the agent exits first. */
  async line(match: (l: string) => boolean, what: string): Promise<void> {
    if (this.lines.some(match)) return;
    const seen = new Promise<void>((resolve) => this.#waiters.push({ match, resolve }));
    const died = this.exited.then(({ code, signal }) => {
      throw new Error(`the agent exited (${code ?? signal}) before ${what}:\n${this.lines.join('\n')}`);
    });
    await Promise.race([seen, died]);
  }
}

function sh(line: string): Promise<number | null> {
  return new Promise((resolve) => spawn('sh', ['-c', line], { stdio: 'ignore' }).once('close', resolve));
}

describe.skipIf(!haveMosquittoPub)(`the README walkthrough on ${abi.name}, from the packed tarball`, () => {
  let agent: AgentProcess;
  let client: TestClient;
  let port: number;
  const stateDir = tempDir('dev2mqtt-abi-state-');

  beforeAll(async () => {
    port = await freePort();
    agent = new AgentProcess(
      spawnDev2mqtt(abi, ['run', '-c', path.join(abi.packageDir, 'config/default.json')], {
        DEV2MQTT_BROKER_PORT: String(port),
        DEV2MQTT_NODE_STATEDIR: stateDir,
      }),
    );
    await agent.line((l) => l.includes('embedded MQTT broker listening'), 'its broker listened');
    client = await TestClient.connect(`mqtt://127.0.0.1:${port}`, { connectTimeout: WAIT_MS });
    await client.subscribe('dev2mqtt/#');
  }, WAIT_MS);

  afterAll(async () => {
    await client?.end();
    if (agent && agent.proc.exitCode === null && agent.proc.signalCode === null) {
      agent.proc.kill('SIGKILL');
      await agent.exited;
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('the node comes online with the demo devices, each available', async () => {
    await client.next((m) => m.topic === 'dev2mqtt/demo/status' && m.payload === 'online', WAIT_MS, 'status online');
    const devices = await client.next((m) => m.topic === 'dev2mqtt/demo/devices', WAIT_MS, 'the device list');
    const ids = (JSON.parse(devices.payload) as Array<{ id: string }>).map((d) => d.id);
    expect(ids).toEqual(DEMO);
    for (const id of ids) {
      await client.next((m) => m.topic === `dev2mqtt/demo/${id}/availability` && m.payload === 'online', WAIT_MS, `${id} online`);
    }
  });

  it('the modem opened through plain termios: QEMU 7.2 has no termios2', async () => {
    const state = await client.next(
      (m) => m.topic === 'dev2mqtt/demo/modem0/state' && m.payload.includes('"open":true'),
      WAIT_MS,
      'the modem open',
    );
    expect(JSON.parse(state.payload)).toMatchObject({ open: true, termios: 'termios', baud: 115200 });
  });

  /** Each "Try it" line as written, then `get` for a demo device none of them addresses (the button). */
  const commands = [...tryItPubLines];
  for (const id of DEMO) {
    if (!commands.some((l) => demoDeviceOf(l) === id)) commands.push(`mosquitto_pub -t dev2mqtt/demo/${id}/cmd/get -n`);
  }

  for (const line of commands) {
    it(line, async () => {
      const device = demoDeviceOf(line);
      const resultTopic = device ? `dev2mqtt/demo/${device}/result` : 'dev2mqtt/demo/result';
      const before = client.on(resultTopic).length;
      expect(await sh(`${line} -p ${port}`)).toBe(0);
      const m = await client.next(
        (x) => x.topic === resultTopic && client.on(resultTopic).indexOf(x) >= before,
        WAIT_MS,
        `the result on ${resultTopic}`,
      );
      const r = JSON.parse(m.payload) as { ok: boolean; error?: { code: string } };
      if (device === 'nosuch') expect(r.error?.code).toBe('unknown_device');
      else expect(r, m.payload).toMatchObject({ ok: true });
    });
  }

  it('every demo device answered a command ok', () => {
    for (const id of DEMO) {
      const results = client.on(`dev2mqtt/demo/${id}/result`).map((m) => JSON.parse(m.payload) as { ok: boolean });
      expect(results.length, id).toBeGreaterThan(0);
      expect(results.every((r) => r.ok)).toBe(true);
    }
  });

  it('SIGTERM: offline published, exit 0', async () => {
    agent.proc.kill('SIGTERM');
    const { code, signal } = await agent.exited;
    expect({ code, signal }, agent.lines.slice(-20).join('\n')).toEqual({ code: 0, signal: null });
    expect(client.on('dev2mqtt/demo/status').map((m) => m.payload)).toContain('offline');
  });
});
