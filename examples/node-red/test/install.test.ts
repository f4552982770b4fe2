/**
 * The subflow module as a user installs it: `npm pack` of
 * examples/node-red/node-red-contrib-dev2mqtt, `npm install` of that tarball
 * into a fresh Node-RED user directory, then the real `node-red` started on
 * it. Node-RED must list the module as loaded, run the example flow deployed
 * over its admin API, and answer an inject pressed over that API.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../bench/ports.mjs';
import { tempDir } from '../../../test/helpers/agent.js';
import { TestClient } from '../../../test/helpers/mqtt-client.js';
import { Inbox, SETUPS, startWorld, type World } from './harness.js';
import { MODULE_DIR, readFlow, type FlowNode } from './node-red.js';

const AGENT = 'nr-installed';
const RESULTS = 'test/node-red/results';
const requireHere = createRequire(import.meta.url);

/** The part of `ws` (the WebSocket client Node-RED's editor API also uses) this test needs. */
interface WebSocketLike {
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  send(data: string): void;
  close(): void;
}
const WebSocket = requireHere('ws') as new (url: string) => WebSocketLike;

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The example flow aimed at the test agent, with a probe that publishes every result record of the subflow. */
function deployable(url: string): FlowNode[] {
  const u = new URL(url);
  const flow = readFlow().map((n) => {
    if (n.type === 'mqtt-broker') return { ...n, broker: u.hostname, port: u.port };
    if (n.type === 'tab') return { ...n, env: [{ name: 'DEV2MQTT_NODE', value: AGENT, type: 'str' }] };
    // The flow's 10 s timeout is for people; a loaded test machine gets longer, so only a real fault fails.
    if (n.type === 'dev2mqtt-command') return { ...n, TIMEOUT_MS: 120_000, wires: (n.wires ?? []).map((out) => [...out, 'probe']) };
    return n;
  });
  const tab = flow.find((n) => n.type === 'tab')!.id;
  const broker = flow.find((n) => n.type === 'mqtt-broker')!.id;
  return [
    ...flow,
    {
      id: 'probe',
      type: 'change',
      z: tab,
      name: 'probe',
      x: 800,
      y: 460,
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'dev2mqtt', tot: 'msg' }],
      wires: [['probe-out']],
    },
    { id: 'probe-out', type: 'mqtt out', z: tab, name: '', x: 960, y: 460, topic: RESULTS, qos: '1', retain: 'false', broker, wires: [] },
  ];
}

describe('the subflow module installed from its npm tarball into a Node-RED user directory', () => {
  const dir = tempDir('dev2mqtt-nr-install-');
  const userDir = path.join(dir, 'user');
  let world: World;
  let spy: TestClient;
  let red: ChildProcess | undefined;
  let log = '';
  const lines = new Inbox<string>();
  let admin = '';
  let comms: WebSocketLike | undefined;
  /** Node statuses as the editor gets them, over Node-RED's /comms WebSocket. */
  const shown = new Inbox<{ id: string; text?: string }>();

  beforeAll(async () => {
    const packed = JSON.parse(npm(['pack', MODULE_DIR, '--json', '--pack-destination', dir], dir)) as Array<{ filename: string }>;
    mkdirSync(userDir);
    npm(['init', '-y'], userDir);
    // Offline: the module has no dependencies, so nothing may come from the registry.
    npm(['install', '--offline', path.join(dir, packed[0]!.filename)], userDir);

    world = await startWorld(SETUPS[0]!, AGENT);
    spy = await TestClient.connect(world.url);
    await spy.subscribe(RESULTS);
    const port = await freePort();
    admin = `http://127.0.0.1:${port}`;
    const settings = path.join(dir, 'settings.cjs');
    writeFileSync(
      settings,
      `module.exports = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: port,
        flowFile: 'flows.json',
        // Nothing may leave loopback: no telemetry, no update check.
        telemetry: { enabled: false, updateNotification: false },
        diagnostics: { enabled: false },
        editorTheme: { tours: false },
        logging: { console: { level: 'info' } },
      })};\n`,
    );
    writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(deployable(world.url)));
    red = spawn(process.execPath, [requireHere.resolve('node-red/red.js'), '--userDir', userDir, '--settings', settings], {
      cwd: userDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer): void => {
      log += d.toString();
      for (const l of d.toString().split('\n')) lines.push(l);
    };
    red.stdout?.on('data', collect);
    red.stderr?.on('data', collect);
    red.once('exit', (code) => lines.push(`node-red exited (${code})`));
    const started = await lines.next((l) => /Started flows|exited/.test(l), 'Node-RED starting its flows', 90_000);
    if (!/Started flows/.test(started)) throw new Error(`Node-RED did not start:\n${log}`);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    comms = ws;
    ws.on('open', () => ws.send(JSON.stringify({ subscribe: 'status/#' })));
    ws.on('message', (data) => {
      for (const m of JSON.parse(data.toString()) as Array<{ topic: string; data?: { text?: string } }>) {
        if (m.topic.startsWith('status/'))
          shown.push({ id: m.topic.slice('status/'.length), ...(m.data?.text ? { text: m.data.text } : {}) });
      }
    });
  });
  afterAll(async () => {
    comms?.close();
    if (red && red.exitCode === null) {
      const exited = new Promise((resolve) => red?.once('exit', resolve));
      red.kill('SIGTERM');
      await exited;
    }
    await spy?.end();
    await world?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the module as loaded, with the dev2mqtt-command type', async () => {
    const res = await fetch(`${admin}/nodes`, { headers: { Accept: 'application/json' } });
    expect(res.status).toBe(200);
    const sets = (await res.json()) as Array<{
      module: string;
      types: string[];
      enabled: boolean;
      loaded: boolean;
      version: string;
      err?: string;
    }>;
    const mine = sets.filter((s) => s.module === 'node-red-contrib-dev2mqtt');
    expect(mine).toEqual([expect.objectContaining({ types: ['dev2mqtt-command'], enabled: true, version: '0.1.0' })]);
    expect(mine[0]?.err).toBeUndefined();
    expect(log).not.toMatch(/Missing node types|Waiting for missing types|\[error\]|Error:/);
  });

  it('runs the example flow: an inject pressed over the admin API comes back as the result of its command', async () => {
    const find = (type: string, name: string): string => readFlow().find((n) => n.type === type && n.name === name)!.id;
    // The picker needs the agent's retained device list first: its status says when it is there.
    const picker = find('function', 'remember devices');
    await shown.next((s) => s.id === picker && s.text === `${AGENT}: 5 devices`, "the picker's device list");
    const inject = find('inject', 'LEDs: on');
    const res = await fetch(`${admin}/inject/${inject}`, { method: 'POST' });
    expect(res.status).toBe(200);
    const m = await spy.next((x) => x.topic === RESULTS, 60_000, 'the result Node-RED passed on');
    expect(JSON.parse(m.payload)).toMatchObject({ node: AGENT, device: 'led0', command: 'set', ok: true, result: { state: 'ON' } });
  });
});
