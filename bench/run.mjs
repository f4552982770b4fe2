// `npm run bench [-- --quick] [-- --json]`: every benchmark, each figure beside its target.
import { flags, machine, printRows } from './lib.mjs';
import { runIoctlBench } from './ioctl.mjs';
import { runSerialIoBench } from './serial-io.mjs';

const suites = [['ioctl core vs C', runIoctlBench], ['serial I/O: uv_poll vs tty stream vs thread pool', runSerialIoBench]];

const all = [];
if (!flags.json) console.log(`# dev2mqtt benchmarks ${flags.quick ? '(quick) ' : ''}— ${new Date().toISOString()}\n# ${machine()}`);
for (const [title, run] of suites) {
  const rows = await run();
  all.push(...rows);
  printRows(rows, { title });
}
if (flags.json) console.log(JSON.stringify({ date: new Date().toISOString(), machine: machine(), quick: flags.quick, rows: all }, null, 2));
else {
  const missed = all.filter((r) => r.met === false);
  console.log(`\n${all.filter((r) => r.met !== null).length - missed.length} targets met, ${missed.length} missed${missed.length ? ': ' + missed.map((r) => `${r.bench}/${r.figure}`).join(', ') : ''}`);
}
