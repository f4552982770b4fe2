// Throughput: commands pipelined at QoS 1 — spread over 10 sim LEDs, and all to
// one — results counted, next to the relay baseline through the same broker.
// Target: >= 50% of the relay's messages per second across 10 devices.
import { fileURLToPath } from 'node:url';
import { atLeast, flags, printRows, progressing, row } from './lib.mjs';
import { connect, stopProcess } from './brokers.mjs';
import { startRelay, withAgent } from './roundtrip.mjs';

const NODE = 'bench';

/**
 * Publishes the commands without waiting, then waits for every result; returns messages per second.
 * `inFlight` caps the commands sent and not yet answered (default: all at once).
 */
export async function pipelined(url, base, devices, n, { node = NODE, inFlight = Infinity } = {}) {
  const client = await connect(url);
  let got = 0;
  let finish;
  let resume;
  const done = new Promise((r) => {
    finish = r;
  });
  client.on('message', () => {
    if (++got === n) finish();
    resume?.();
  });
  const what = `${n} results on ${base}/${node}/+/result`;
  try {
    await client.subscribeAsync(`${base}/${node}/+/result`, { qos: 1 });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      while (i - got >= inFlight) await progressing(new Promise((r) => (resume = r)), () => got, 60_000, what);
      const dev = devices[i % devices.length];
      client.publish(`${base}/${node}/${dev}/cmd/set`, JSON.stringify({ id: `tp${i}`, state: i % 2 ? 'ON' : 'OFF' }), { qos: 1 });
    }
    await progressing(done, () => got, 60_000, what);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await client.endAsync(true);
  }
}

export async function runThroughputBench() {
  const n = flags.quick ? 4000 : 40_000;
  const ten = Array.from({ length: 10 }, (_, i) => `led${i}`);
  const devices = ten.map((id) => ({ id, kind: 'led', sim: true, options: { name: id, pollMs: 0 } }));
  return withAgent('mosquitto', devices, async (url) => {
    const relay = await startRelay(url);
    await pipelined(url, 'relay', ten, Math.min(n, 2000));
    await pipelined(url, 'dev2mqtt', ten, Math.min(n, 2000));
    const relayTen = await pipelined(url, 'relay', ten, n);
    const agentTen = await pipelined(url, 'dev2mqtt', ten, n);
    const relayOne = await pipelined(url, 'relay', ['led0'], n);
    const agentOne = await pipelined(url, 'dev2mqtt', ['led0'], n);
    await stopProcess(relay);
    return [
      row('throughput', 'relay msg/s, 10 topics', relayTen, '/s'),
      row('throughput', 'agent cmd/s, 10 devices', agentTen, '/s'),
      row('throughput', 'agent/relay, 10 devices', agentTen / relayTen, 'x', atLeast(0.5, 'x')),
      row('throughput', 'relay msg/s, 1 topic', relayOne, '/s'),
      row('throughput', 'agent cmd/s, 1 device', agentOne, '/s'),
      row('throughput', 'agent/relay, 1 device', agentOne / relayOne, 'x'),
    ];
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runThroughputBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'pipelined throughput (QoS 1, mosquitto)' });
}
