// `npm run bench [-- --quick] [-- --json]`: every benchmark, each figure beside
// its target and whether it is met. Figures only: nothing here fails on a number.
// A bench that breaks (gives up waiting for an agent, a result, a broker) is
// reported by name with its reason and the run goes on to the next one: each
// bench has cleaned up its brokers, agents and workers before it fails, and
// the others' figures are still worth having. The run then exits 1.
import { flags, machine, printRows } from './lib.mjs';
import { runDiscoveryBench } from './discovery.mjs';
import { runFleetBench, runNatsFleetBench, runRabbitmqFleetBench } from './fleet.mjs';
import { runFootprintBench } from './footprint.mjs';
import { runIdleRssBench } from './idle-rss.mjs';
import { runIoctlBench } from './ioctl.mjs';
import { runIsolationBench } from './isolation.mjs';
import { runRoundtripBench } from './roundtrip.mjs';
import { runSerialIoBench } from './serial-io.mjs';
import { runThroughputBench } from './throughput.mjs';
import { runW1StallBench } from './w1-stall.mjs';
import { runWearBench } from './wear.mjs';

const suites = [
  ['command round trip (sim LED) vs relay', runRoundtripBench],
  ['pipelined throughput (QoS 1, mosquitto)', runThroughputBench],
  ['isolation: LED while the tape rewinds and the modem talks', runIsolationBench],
  ['w1-stall: LED while a DS18B20 conversion stalls 2 s', runW1StallBench],
  ['footprint and start-up', runFootprintBench],
  ['idle RSS: the demo beside a real-device config', runIdleRssBench],
  ['fleet on one mosquitto', runFleetBench],
  ['fleet on a three-node nats-server cluster', runNatsFleetBench],
  ['fleet on a three-node RabbitMQ cluster', runRabbitmqFleetBench],
  ['Home Assistant discovery per Pi', runDiscoveryBench],
  ['ioctl core vs C', runIoctlBench],
  ['serial I/O: uv_poll vs tty stream vs thread pool', runSerialIoBench],
  ['flash wear: bytes written to stateDir', runWearBench],
];

const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const started = performance.now();
const all = [];
const failed = [];
if (!flags.json) console.log(`# dev2mqtt benchmarks ${flags.quick ? '(quick) ' : ''}— ${new Date().toISOString()}\n# ${machine()}`);
for (const [title, run] of suites) {
  if (only && !only.some((o) => title.includes(o))) continue;
  const t0 = performance.now();
  const took = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  let rows;
  try {
    rows = await run();
  } catch (e) {
    failed.push({ bench: title, error: e instanceof Error ? e.message : String(e) });
    // stderr, so that --json's stdout stays one document.
    console.error(`\n## ${title}: FAILED after ${took()}: ${e instanceof Error ? e.message : String(e)}`);
    continue;
  }
  all.push(...rows);
  printRows(rows, { title: `${title} (${took()})` });
}
const seconds = (performance.now() - started) / 1000;
if (flags.json)
  console.log(
    JSON.stringify({ date: new Date().toISOString(), machine: machine(), quick: flags.quick, seconds, rows: all, failed }, null, 2),
  );
else {
  const missed = all.filter((r) => r.met === false);
  console.log(
    `\n${all.filter((r) => r.met !== null).length - missed.length} targets met, ${missed.length} missed${missed.length ? `: ${missed.map((r) => `${r.bench}/${r.figure}`).join(', ')}` : ''} — ${seconds.toFixed(0)} s`,
  );
}
if (failed.length)
  console.error(`\n${failed.length} bench${failed.length > 1 ? 'es' : ''} failed: ${failed.map((f) => f.bench).join('; ')}`);
// Child processes, ptys and sockets of the suites are closed; do not wait for stray handles.
process.exit(failed.length ? 1 : 0);
