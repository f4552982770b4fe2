// Flash wear: the bytes the agent writes into files under node.stateDir (on a
// Raspberry Pi: the SD card) per 1,000 QoS 1 commands with ids, counted from
// the write(2) calls themselves (strace -y names each call's file), not from
// the agent's own bookkeeping. Two layouts of one LED (its sysfs tree
// elsewhere, as a real LED's is):
//  - the journal in node.stateDir: what `dev2mqtt run` does outside systemd;
//  - the default Pi deployment: systemd's RuntimeDirectory= (a tmpfs, /run)
//    holds the journal, so the SD card sees no write per command.
// Startup writes are left out (the window opens once the agent is online);
// the shutdown after the last result is counted. Full runs send enough
// commands to include one compaction of a full dedupe window, as often as a
// long run has one.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost, flags, printRows, row, within } from './lib.mjs';
import { LAUNCHER, launcherNodeFlags, startMosquitto, stopProcess, tempDir, waitOnline } from './brokers.mjs';
import { pipelined } from './throughput.mjs';

function fakeLed(root) {
  const dir = path.join(root, 'class', 'leds', 'bench0');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'brightness'), '0\n');
  writeFileSync(path.join(dir, 'max_brightness'), '255\n');
  writeFileSync(path.join(dir, 'trigger'), '[none] timer heartbeat\n');
}

/** Sums the bytes each traced write put into a file under one of `dirs`, from epoch second `from` on. */
export function bytesWritten(trace, dirs, from) {
  const sums = new Map(dirs.map((d) => [d, 0]));
  const pending = new Map();
  const call = /^(\d+)\s+(\d+\.\d+)\s+(?:write|pwrite64|writev|pwritev2?)\(\d+<([^>]*)>/;
  const resumed = /^(\d+)\s+(\d+\.\d+)\s+<\.\.\. (?:write|pwrite64|writev|pwritev2?) resumed>.*=\s+(\d+)/;
  for (const line of trace.split('\n')) {
    let file;
    let bytes;
    let at;
    const c = call.exec(line);
    if (c) {
      if (line.endsWith('<unfinished ...>')) {
        pending.set(c[1], c[3]);
        continue;
      }
      file = c[3];
      at = Number(c[2]);
      bytes = Number(/=\s+(\d+)$/.exec(line)?.[1] ?? 0);
    } else {
      const r = resumed.exec(line);
      if (!r) continue;
      file = pending.get(r[1]);
      pending.delete(r[1]);
      at = Number(r[2]);
      bytes = Number(r[3]);
    }
    if (at < from || file === undefined) continue;
    for (const d of dirs) if (file.startsWith(`${d}/`)) sums.set(d, sums.get(d) + bytes);
  }
  return sums;
}

/** The agent under strace; resolves with the trace once the agent has stopped. */
async function tracedRun(url, node, { stateDir, runtimeDir, sysfsRoot }, commands) {
  const dir = tempDir('dev2mqtt-bench-wear-');
  const configFile = path.join(dir, 'config.json');
  const traceFile = path.join(dir, 'trace.txt');
  writeFileSync(
    configFile,
    JSON.stringify({
      node: { id: node, stateDir },
      mqtt: { url },
      devices: [{ id: 'led0', kind: 'led', options: { name: 'bench0', sysfsRoot, pollMs: 0 } }],
      telemetry: { intervalMs: 3_600_000 },
      security: { rateLimitPerS: 0 },
      log: { level: 'warn' },
    }),
  );
  const strace = spawn(
    'strace',
    ['-f', '-qq', '-ttt', '-y', '-e', 'trace=write,pwrite64,writev,pwritev,pwritev2', '-e', 'signal=none', '-o', traceFile].concat([
      process.execPath,
      ...launcherNodeFlags(),
      LAUNCHER,
      'run',
      '-c',
      configFile,
    ]),
    { stdio: 'ignore', env: { ...process.env, RUNTIME_DIRECTORY: runtimeDir ?? '' } },
  );
  try {
    await waitOnline(url, node, { proc: strace });
    const from = Date.now() / 1000;
    // A hundred in flight, as a busy controller sends: batched, never so many that some wait past their timeout.
    await pipelined(url, 'dev2mqtt', ['led0'], commands, { node, inFlight: 100 });
    // The agent (strace's child) stops as systemd stops it; strace exits with it.
    const agentPid = Number(readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    const exited = new Promise((r) => strace.once('exit', r));
    process.kill(agentPid, 'SIGTERM');
    await within(exited, 30_000, `agent ${node} (under strace) to stop on SIGTERM`);
    return { trace: readFileSync(traceFile, 'utf8'), from };
  } finally {
    await stopProcess(strace, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runWearBench() {
  if (spawnSync('strace', ['-V'], { stdio: 'ignore' }).status !== 0) {
    return [row('wear', 'skipped: strace not found (apt-get install strace)', NaN, '')];
  }
  // Quick: 1,000 commands. Full: one compaction of the default 10,000-result window, which comes every
  // 81,000 lines (8 windows + 1,000) of four a command: about one per 20,250 commands, as in a long run.
  const commands = flags.quick ? 1000 : 21_000;
  const per1000 = (bytes) => (bytes / commands) * 1000;
  const mosq = await startMosquitto();
  const rows = [];
  const root = tempDir('dev2mqtt-bench-wear-');
  try {
    // An LED each: two agents writing one brightness file would read each other's half-written value.
    const sysfs = (name) => {
      const at = path.join(root, name, 'sys');
      fakeLed(at);
      return at;
    };

    const alone = { stateDir: path.join(root, 'a', 'state'), sysfsRoot: sysfs('a') };
    const pi = { stateDir: path.join(root, 'b', 'state'), runtimeDir: path.join(root, 'b', 'run'), sysfsRoot: sysfs('b') };
    mkdirSync(pi.runtimeDir, { recursive: true });
    // Side by side on one broker: each agent's writes are its own trace.
    const [a, b] = await Promise.all([tracedRun(mosq.url, 'wear-a', alone, commands), tracedRun(mosq.url, 'wear-b', pi, commands)]);
    const inState = bytesWritten(a.trace, [alone.stateDir], a.from).get(alone.stateDir);
    rows.push(row('wear/journal in stateDir', 'bytes to stateDir per 1,000 commands', per1000(inState), 'B'));
    rows.push(row('wear/journal in stateDir', 'bytes per command', inState / commands, 'B'));
    const sums = bytesWritten(b.trace, [pi.stateDir, pi.runtimeDir], b.from);
    rows.push(
      row(
        'wear/Pi default (journal in RuntimeDirectory)',
        'bytes to stateDir (SD) per 1,000 commands',
        per1000(sums.get(pi.stateDir)),
        'B',
        atMost(0),
      ),
    );
    rows.push(
      row(
        'wear/Pi default (journal in RuntimeDirectory)',
        'bytes to /run (tmpfs) per 1,000 commands',
        per1000(sums.get(pi.runtimeDir)),
        'B',
      ),
    );
    rows.push(row('wear', 'commands per layout', commands, ''));
  } finally {
    await mosq.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runWearBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'flash wear: bytes written to stateDir' });
}
