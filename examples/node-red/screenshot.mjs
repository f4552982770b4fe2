// Takes docs/node-red-flow.png: the example flow in the Node-RED editor, as a
// user sees it after pressing its injects, against the demo agent. Not run by
// CI; run it after changing the flow:
//
//   npm run build && npm ci --prefix examples/node-red
//   apt-get install chromium        (Debian's; its path below)
//   node examples/node-red/screenshot.mjs [out.png]
//
// It installs the subflow module from this checkout (npm install <folder>, as
// docs/node-red.md tells users), starts `dev2mqtt run` with the demo config on
// a free loopback port and Node-RED on another, and drives headless Chromium.
// Nothing leaves loopback: Chromium resolves no other host.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { freePort } from '../../bench/ports.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const out = path.resolve(process.argv[2] ?? path.join(repo, 'docs/node-red-flow.png'));
const requireHere = createRequire(import.meta.url);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-screenshot-'));
const children = [];

/** Starts a child and resolves once a line of its output matches `ready`. */
function start(name, cmd, args, ready, options = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.push(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const seen = (d) => {
      log += d.toString();
      if (ready.test(log)) resolve(child);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${log}`)));
  });
}

async function main() {
  // The demo agent, its embedded broker on a free port.
  const brokerPort = await freePort();
  const config = JSON.parse(readFileSync(path.join(repo, 'config/default.json'), 'utf8'));
  config.broker.port = brokerPort;
  config.node.stateDir = path.join(dir, 'state');
  config.log = { level: 'info' };
  writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(config));
  await start(
    'dev2mqtt',
    process.execPath,
    [path.join(repo, 'dist/cli.js'), 'run', '-c', path.join(dir, 'agent.json')],
    /connected to broker/,
  );

  // A Node-RED user directory with the module installed from this checkout.
  const userDir = path.join(dir, 'user');
  mkdirSync(userDir);
  writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  const npm = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(here, 'node-red-contrib-dev2mqtt')], {
    cwd: userDir,
    encoding: 'utf8',
  });
  if (npm.status !== 0) throw new Error(`npm install failed:\n${npm.stderr}`);
  const flow = JSON.parse(readFileSync(path.join(here, 'flow.json'), 'utf8')).map((n) =>
    n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(brokerPort) } : n,
  );
  writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow));
  const uiPort = await freePort();
  const settings = {
    uiHost: '127.0.0.1',
    uiPort,
    flowFile: 'flows.json',
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
  };
  writeFileSync(path.join(dir, 'settings.cjs'), `module.exports = ${JSON.stringify(settings)};\n`);
  await start(
    'node-red',
    process.execPath,
    [requireHere.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(dir, 'settings.cjs')],
    /Connected to broker/,
  );
  const admin = `http://127.0.0.1:${uiPort}`;

  const browser = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    ],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    // The editor keeps loading after 'load' anyway: the nodes on the canvas say when it is ready.
    await page.goto(admin, { waitUntil: 'domcontentloaded', timeout: 120_000 });
    await page.waitForSelector('.red-ui-flow-node', { timeout: 60_000 });
    // The flow gets the whole width: the sidebar closed (ctrl-space), then every inject pressed.
    await page.waitForSelector('text=pick devices', { timeout: 60_000 });
    await page.keyboard.press('Control+Space');
    for (const n of flow.filter((x) => x.type === 'inject')) {
      const res = await fetch(`${admin}/inject/${n.id}`, { method: 'POST' });
      if (!res.ok) throw new Error(`inject ${n.name}: HTTP ${res.status}`);
    }
    // The status board and each kind's debug node show their status once the results are in.
    await page.waitForSelector('text=1/1 nodes online', { timeout: 60_000 });
    await page.waitForSelector('text=tape0', { timeout: 60_000 });
    await page.screenshot({ path: out });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
}

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  rmSync(dir, { recursive: true, force: true });
}
