// Shared bench plumbing: flags, result rows with their targets, table/JSON output.
// Figures are printed, never asserted: a noisy machine must not fail a build.
import os from 'node:os';

export const flags = {
  quick: process.argv.includes('--quick'),
  json: process.argv.includes('--json'),
};

/** One printed figure: `target` is a predicate over the value, described in words. */
export function row(bench, figure, value, unit, target) {
  return {
    bench,
    figure,
    value: Number.isFinite(value) ? Number(value.toPrecision(4)) : value,
    unit,
    target: target?.text ?? '',
    met: target ? target.check(value) : null,
  };
}

export const atMost = (limit, unit = '') => ({ text: `<= ${limit}${unit}`, check: (v) => v <= limit });
export const atLeast = (limit, unit = '') => ({ text: `>= ${limit}${unit}`, check: (v) => v >= limit });

export function machine() {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, node ${process.version}`;
}

export function printRows(rows, { title } = {}) {
  if (flags.json) return;
  if (title) console.log(`\n## ${title}`);
  const w = (k) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? '').length));
  const cols = ['bench', 'figure', 'value', 'unit', 'target', 'met'];
  const widths = Object.fromEntries(cols.map((c) => [c, w(c)]));
  const cell = (r, c) => (c !== 'met' ? String(r[c] ?? '') : r.met === null ? '' : r.met ? 'yes' : 'NO');
  const line = (cells) =>
    cells
      .map((t, i) => t.padEnd(widths[cols[i]]))
      .join('  ')
      .trimEnd();
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => cell(r, c))));
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
