// A stalled 1-wire read beside another device: LED round trips while a sim
// DS18B20 whose every conversion takes 2 s (a bus that retries) is read back
// to back, by its poll and by `get` commands, against the same LED while the
// sensor is left alone (before and after). The stall holds the sensor's own
// queue; the LED has its own and must not wait on it.
// Target: LED p99 while the sensor stalls <= 1.2 x its idle p99.
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, flags, printRows, row, within } from './lib.mjs';
import { connect } from './brokers.mjs';
import { sequentialRoundTrips, stats, withAgent } from './roundtrip.mjs';

const NODE = 'bench';
const STALL_MS = 2000;
const IDLE_READ_MS = 86_400_000;

/** Sends one command and resolves with its result (matched by id). */
function command(client, device, name, args, id) {
  const resultTopic = `dev2mqtt/${NODE}/${device}/result`;
  let on;
  const got = new Promise((resolve) => {
    on = (t, p) => {
      if (t === resultTopic && p.toString().includes(`"id":"${id}"`)) resolve(JSON.parse(p.toString()));
    };
    client.on('message', on);
    client.publish(`dev2mqtt/${NODE}/${device}/cmd/${name}`, JSON.stringify({ ...args, id }), { qos: 1 });
  });
  return within(got, 60_000, `the result of command ${id} on ${resultTopic}`).finally(() => client.off('message', on));
}

export async function runW1StallBench() {
  const n = flags.quick ? 1000 : 4000;
  const devices = [
    { id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } },
    {
      id: 'ds18b20',
      kind: 'sensor',
      sim: true,
      options: { source: 'w1', simConversionMs: STALL_MS, readMs: IDLE_READ_MS },
    },
  ];
  return withAgent('mosquitto', devices, async (url) => {
    const on = (i) => ({ state: i % 2 ? 'ON' : 'OFF' });
    const led = (count) => sequentialRoundTrips(url, `dev2mqtt/${NODE}/led0/cmd/set`, `dev2mqtt/${NODE}/led0/result`, count, on);
    const c = await connect(url);
    let stalling = true;
    let getLoop = Promise.resolve();
    const gets = [];
    const busy = [];
    let idleBefore;
    let idleAfter;
    try {
      await c.subscribeAsync(`dev2mqtt/${NODE}/ds18b20/result`, { qos: 1 });
      // The first conversion (at open) and a get: the sensor's code paths compiled before anything is measured.
      await command(c, 'ds18b20', 'get', {}, 'warm');
      await led(flags.quick ? 300 : 1000);
      idleBefore = await led(n);

      // Stalled: the poll converts back to back and gets queue behind it.
      await command(c, 'ds18b20', 'configure', { readMs: 250 }, 'busy');
      getLoop = (async () => {
        for (let i = 0; stalling; i++) {
          const t0 = performance.now();
          const r = await command(c, 'ds18b20', 'get', {}, `g${i}`);
          gets.push({ ms: performance.now() - t0, ok: r.ok });
        }
      })();
      // Measure for at least five stalls, so each LED sample is taken beside a conversion in flight.
      const until = performance.now() + 5 * STALL_MS;
      while (performance.now() < until || busy.length < n) busy.push(...(await led(200)));
      stalling = false;
      await getLoop;
      await command(c, 'ds18b20', 'configure', { readMs: IDLE_READ_MS }, 'idle');
      idleAfter = await led(n);
    } finally {
      // A bench that gave up: the get loop ends at its next command (its own give-up at the latest).
      stalling = false;
      await getLoop.catch(() => undefined);
      await c.endAsync(true);
    }

    const idle = stats([...idleBefore, ...idleAfter]);
    const stalled = stats(busy);
    const getMs = gets.map((g) => g.ms).sort((a, b) => a - b);
    return [
      row('w1-stall', 'LED p99 idle (before and after)', idle.p99 * 1000, 'µs'),
      row('w1-stall', `LED p99 while DS18B20 conversions stall ${STALL_MS / 1000} s each`, stalled.p99 * 1000, 'µs'),
      row('w1-stall', 'LED round trips measured during the stalls', busy.length, ''),
      row('w1-stall', 'sensor gets answered meanwhile (each behind a stalled conversion)', gets.filter((g) => g.ok).length, '', atLeast(2)),
      row('w1-stall', 'shortest sensor get', getMs[0] ?? NaN, 'ms', atLeast(STALL_MS, 'ms')),
      row('w1-stall', 'stalled/idle LED p99', stalled.p99 / idle.p99, 'x', atMost(1.2, 'x')),
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runW1StallBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'w1-stall: LED while a DS18B20 conversion stalls 2 s' });
}
