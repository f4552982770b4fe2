// Isolation: LED round trips while a sim tape drive runs a 30 s rewind and a
// sim modem answers a stream of AT commands, against the same LED idle.
// Target: busy p99 <= 1.2 x idle p99.
import { fileURLToPath } from 'node:url';
import { atMost, flags, printRows, row, within } from './lib.mjs';
import { connect } from './brokers.mjs';
import { sequentialRoundTrips, stats, withAgent } from './roundtrip.mjs';

const NODE = 'bench';

async function command(client, topic, args, id) {
  const resultTopic = topic.replace(/\/cmd\/[^/]+$/, '/result');
  let on;
  const got = new Promise((resolve) => {
    on = (t, p) => {
      if (t === resultTopic && p.toString().includes(`"id":"${id}"`)) resolve(JSON.parse(p.toString()));
    };
    client.on('message', on);
  });
  try {
    await client.subscribeAsync(resultTopic, { qos: 1 });
    client.publish(topic, JSON.stringify({ ...args, id }), { qos: 1 });
    // A rewind's result comes when the rewind ends: its deadline is the command's own timeout and a minute more.
    return await within(got, (args.timeoutMs ?? 0) + 60_000, `the result of command ${id} on ${resultTopic}`);
  } finally {
    client.off('message', on);
  }
}

/**
 * What one AT+CSQ exchange occupies a 115200-baud line for: "AT+CSQ\r" out,
 * "\r\n+CSQ: 21,99\r\n\r\nOK\r\n" back, ten bits a byte. A modem cannot
 * answer faster than its line; the pty behind the sim one can.
 */
const LINE_MS_PER_AT = ((7 + 23) * 10 * 1000) / 115_200;

/** One rewind with AT commands streaming meanwhile; LED round trips measured while it runs. */
async function busyPhase(url, n, rewindMs, paced, tag) {
  const on = (i) => ({ state: i % 2 ? 'ON' : 'OFF' });
  const c = await connect(url);
  let atRunning = true;
  let atStream = Promise.resolve();
  try {
    // Move off BOT, so the rewind has tape to wind back.
    await command(c, `dev2mqtt/${NODE}/tape0/cmd/write`, { data: 'isolation', encoding: 'utf8' }, `${tag}w`);
    const rewind = command(c, `dev2mqtt/${NODE}/tape0/cmd/rewind`, { timeoutMs: rewindMs + 30_000 }, `${tag}rw`);
    let atCount = 0;
    const atStart = performance.now();
    atStream = (async () => {
      while (atRunning) {
        const t0 = performance.now();
        await command(c, `dev2mqtt/${NODE}/modem0/cmd/at`, { command: 'AT+CSQ' }, `${tag}at${atCount++}`);
        const rest = LINE_MS_PER_AT - (performance.now() - t0);
        if (paced && rest > 0) await new Promise((r) => setTimeout(r, Math.ceil(rest)));
      }
    })();
    const times = [];
    let rewindDone = false;
    // Its failure is awaited below; this only notes the end.
    rewind.then(
      () => (rewindDone = true),
      () => (rewindDone = true),
    );
    // Measure only while the rewind really runs.
    while (!rewindDone && times.length < n * 4)
      times.push(...(await sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, 200, on)));
    const rewound = await rewind;
    atRunning = false;
    await atStream;
    const atSeconds = (performance.now() - atStart) / 1000;
    return { times, atPerS: atCount / atSeconds, ok: rewound.ok };
  } finally {
    // A bench that gave up: the AT stream ends at its next command (its own give-up at the latest).
    atRunning = false;
    await atStream.catch(() => undefined);
    await c.endAsync(true);
  }
}

export async function runIsolationBench() {
  const rewindMs = flags.quick ? 3000 : 30_000;
  const n = flags.quick ? 1000 : 4000;
  const devices = [
    { id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } },
    { id: 'tape0', kind: 'tape', sim: true, options: { path: '/dev/nst0', sim: { timing: { rewindMs } } } },
    { id: 'modem0', kind: 'serial', sim: true, options: {} },
  ];
  return withAgent('mosquitto', devices, async (url) => {
    const on = (i) => ({ state: i % 2 ? 'ON' : 'OFF' });
    const led = () => sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, n, on);
    await led(); // warm-up
    // The modem and tape paths too: their first runs compile on the agent's one thread, and a
    // second of that inside the busy phase would be p99 of the LED, measured as interference.
    const w = await connect(url);
    try {
      for (let i = 0; i < (flags.quick ? 300 : 1000); i++)
        await command(w, `dev2mqtt/${NODE}/modem0/cmd/at`, { command: 'AT+CSQ' }, `wat${i}`);
      for (let i = 0; i < 50; i++) await command(w, `dev2mqtt/${NODE}/tape0/cmd/status`, {}, `wst${i}`);
    } finally {
      await w.endAsync(true);
    }
    // Idle before and after the busy phase: a p99 of sub-millisecond times swings with the
    // machine's other tenants, and one quiet or one noisy idle sample alone misstates the ratio.
    const idleBefore = await led();
    const lineRate = await busyPhase(url, n, rewindMs, true, 'p');
    const idleAfter = await led();
    // The same with the modem answering as fast as a pty can: CPU on a 2-core machine, not isolation.
    const flatOut = await busyPhase(url, n, rewindMs, false, 'f');
    const idle = stats([...idleBefore, ...idleAfter]);
    const busy = stats(lineRate.times);
    const busyFlat = stats(flatOut.times);
    return [
      row('isolation', 'LED p99 idle (before and after)', idle.p99 * 1000, 'µs'),
      row('isolation', `LED p99 during ${rewindMs / 1000} s rewind + AT stream at 115200 baud`, busy.p99 * 1000, 'µs'),
      row('isolation', 'LED round trips measured during the rewind', lineRate.times.length, ''),
      row('isolation', 'AT commands answered per second meanwhile', lineRate.atPerS, '/s'),
      row('isolation', 'rewinds ok', (lineRate.ok ? 1 : 0) + (flatOut.ok ? 1 : 0), '', { text: '= 2', check: (v) => v === 2 }),
      row('isolation', 'busy/idle p99', busy.p99 / idle.p99, 'x', atMost(1.2, 'x')),
      row('isolation', 'AT stream unpaced: AT commands per second', flatOut.atPerS, '/s'),
      row('isolation', 'AT stream unpaced: busy/idle p99', busyFlat.p99 / idle.p99, 'x'),
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runIsolationBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'isolation: LED while the tape rewinds and the modem talks' });
}
