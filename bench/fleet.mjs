// Fleet: N agents (a sim LED each) in a few worker processes on one
// mosquitto. Time from a group command to the last of N results; agents per
// MiB; after a broker restart, the time until all are online again and the
// busiest second of reconnects (jitter must spread them).
// Targets: N = 1,000 on this 2-core machine; all results within 2 s; no
// reconnect second above 3x the average.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, flags, printRows, row } from './lib.mjs';
import { connect, ROOT, startMosquitto } from './brokers.mjs';

const MiB = 1024 * 1024;

export async function runFleetBench() {
  const n = flags.quick ? 100 : 1000;
  const workers = flags.quick ? 2 : 4;
  const mosq = await startMosquitto({ extra: ['max_keepalive 120'] });
  const procs = [];
  const onlineAt = new Map();
  let restartedAt = Infinity;
  const reconnects = [];
  try {
    const started = [];
    for (let w = 0; w < workers; w++) {
      const count = Math.floor(n / workers) + (w < n % workers ? 1 : 0);
      const p = fork(path.join(ROOT, 'bench', 'fleet-worker.mjs'), [mosq.url, `f${w}`, String(count)], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      procs.push(p);
      started.push(
        new Promise((resolve) => {
          p.on('message', (m) => {
            if (m.online) {
              onlineAt.set(m.online, m.t);
              if (m.t >= restartedAt) reconnects.push(m.t);
            }
            if (m.started !== undefined) resolve(m);
          });
        }),
      );
    }
    const t0 = Date.now();
    const reports = await Promise.all(started);
    // start() returns before the connection is up: wait until every agent said online.
    while (onlineAt.size < n && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 20));
    const startS = (Date.now() - t0) / 1000;
    const rss = reports.reduce((sum, r) => sum + r.rss, 0);

    // One group command, N results.
    const client = await connect(mosq.url, { reconnectPeriod: 50 });
    let got = 0;
    let last = 0;
    let allIn;
    const done = new Promise((r) => {
      allIn = r;
    });
    client.on('message', (_t, p) => {
      if (!p.toString().includes('"id":"fleet-1"')) return;
      last = performance.now();
      if (++got === n) allIn();
    });
    await client.subscribeAsync('dev2mqtt/+/led0/result', { qos: 1 });
    const sent = performance.now();
    client.publish('dev2mqtt/group/fleet/led0/cmd/set', '{"id":"fleet-1","state":"ON"}', { qos: 1 });
    await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))]);
    const groupMs = last - sent;
    await client.endAsync(true);
    const stats = await Promise.all(
      procs.map(
        (p) =>
          new Promise((resolve) => {
            const on = (m) => {
              if (m.stats) {
                p.off('message', on);
                resolve(m.stats);
              }
            };
            p.on('message', on);
            p.send('stats');
          }),
      ),
    );
    const executed = stats.reduce((sum, st) => sum + st.ok, 0);

    // Broker restart: all back online, and how evenly.
    restartedAt = Date.now();
    await mosq.restart('SIGKILL');
    const back = await new Promise((resolve) => {
      const check = setInterval(() => {
        if (reconnects.length >= n) {
          clearInterval(check);
          resolve(true);
        }
        if (Date.now() - restartedAt > 120_000) {
          clearInterval(check);
          resolve(false);
        }
      }, 50);
    });
    const lastBack = Math.max(...reconnects);
    const seconds = new Map();
    for (const t of reconnects) {
      const s = Math.floor((t - restartedAt) / 1000);
      seconds.set(s, (seconds.get(s) ?? 0) + 1);
    }
    const spanS = Math.max(1, Math.ceil((lastBack - restartedAt) / 1000));
    const avg = reconnects.length / spanS;
    const peak = Math.max(...seconds.values());
    return [
      row('fleet', 'agents', n, '', flags.quick ? undefined : atLeast(1000)),
      row('fleet', 'worker processes', workers, ''),
      row('fleet', 'time to start all and see them online', startS, 's'),
      row('fleet', 'agents per MiB (worker RSS)', n / (rss / MiB), '/MiB'),
      row('fleet', 'group commands run by the agents', executed, '', atLeast(n)),
      row('fleet', 'group command results received', got, '', atLeast(n)),
      row('fleet', 'group command to last of N results', groupMs, 'ms', atMost(2000, ' ms')),
      row('fleet', 'all online again after broker restart', back ? (lastBack - restartedAt) / 1000 : NaN, 's'),
      row('fleet', 'reconnects per second: average over the span', avg, '/s'),
      row('fleet', 'reconnects in the busiest second', peak, ''),
      row('fleet', 'busiest second / average', peak / avg, 'x', atMost(3, 'x')),
    ];
  } finally {
    for (const p of procs) p.send('stop');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)))));
    await mosq.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runFleetBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'fleet on one mosquitto' });
}
