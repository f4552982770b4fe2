// Isolation: LED round trips while a sim tape drive runs a 30 s rewind and a
// sim modem answers a stream of AT commands, against the same LED idle.
// Target: busy p99 <= 1.2 x idle p99.
import { fileURLToPath } from 'node:url';
import { atMost, flags, printRows, row } from './lib.mjs';
import { connect } from './brokers.mjs';
import { sequentialRoundTrips, stats, withAgent } from './roundtrip.mjs';

const NODE = 'bench';

async function command(client, topic, args, id) {
  const resultTopic = topic.replace(/\/cmd\/[^/]+$/, '/result');
  const got = new Promise((resolve) => {
    const on = (t, p) => {
      if (t === resultTopic && p.toString().includes(`"id":"${id}"`)) {
        client.off('message', on);
        resolve(JSON.parse(p.toString()));
      }
    };
    client.on('message', on);
  });
  await client.subscribeAsync(resultTopic, { qos: 1 });
  client.publish(topic, JSON.stringify({ ...args, id }), { qos: 1 });
  return got;
}

export async function runIsolationBench() {
  const rewindMs = flags.quick ? 5000 : 30_000;
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
    const idle = stats(await led());

    const c = await connect(url);
    // Move off BOT, so the rewind has tape to wind back.
    await command(c, `dev2mqtt/${NODE}/tape0/cmd/write`, { data: 'isolation', encoding: 'utf8' }, 'w1');
    const rewind = command(c, `dev2mqtt/${NODE}/tape0/cmd/rewind`, { timeoutMs: rewindMs + 30_000 }, 'rw');
    let atRunning = true;
    let atCount = 0;
    const atStream = (async () => {
      while (atRunning) {
        await command(c, `dev2mqtt/${NODE}/modem0/cmd/at`, { command: 'AT+CSQ' }, `at${atCount++}`);
      }
    })();
    const busyTimes = [];
    let rewindDone = false;
    void rewind.then(() => { rewindDone = true; });
    // Measure only while the rewind really runs.
    while (!rewindDone && busyTimes.length < n * 4) busyTimes.push(...(await sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, 200, on)));
    const rewound = await rewind;
    atRunning = false;
    await atStream;
    await c.endAsync(true);
    const busy = stats(busyTimes);
    return [
      row('isolation', 'LED p99 idle', idle.p99 * 1000, 'µs'),
      row('isolation', `LED p99 during ${rewindMs / 1000} s rewind + AT stream`, busy.p99 * 1000, 'µs'),
      row('isolation', 'LED round trips measured during the rewind', busyTimes.length, ''),
      row('isolation', 'AT commands answered meanwhile', atCount, ''),
      row('isolation', 'rewind ok', rewound.ok ? 1 : 0, ''),
      row('isolation', 'busy/idle p99', busy.p99 / idle.p99, 'x', atMost(1.2, 'x')),
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runIsolationBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'isolation: LED while the tape rewinds and the modem talks' });
}
