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

const waitScale = Number(process.env.DEV2MQTT_BENCH_WAIT_SCALE ?? 1);
/** A bench's deadline for something it waits on, stretched by DEV2MQTT_BENCH_WAIT_SCALE (a slow board, a demo of a give-up). */
export const waitMs = (ms) => ms * (Number.isFinite(waitScale) && waitScale > 0 ? waitScale : 1);

/** Why a bench stopped waiting: what it waited for, and for how long. */
export class GaveUp extends Error {}

/**
 * `promise`, or a GaveUp naming `what` once `ms` have passed or, given `proc`
 * (a child process the awaited event comes from), once that exits first: an
 * agent that never comes online ends the bench, with the reason, instead of
 * hanging it. Cleaning up what was waited on is the caller's (its finally).
 */
export function within(promise, ms, what, { proc } = {}) {
  const limit = waitMs(ms);
  let timer;
  let onExit;
  const gaveUp = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new GaveUp(`gave up after ${limit / 1000} s waiting for ${what}`)), limit);
    if (!proc) return;
    onExit = (code, signal) => reject(new GaveUp(`stopped waiting for ${what}: its process exited (${signal ?? `code ${code}`})`));
    if (proc.exitCode !== null || proc.signalCode !== null) onExit(proc.exitCode, proc.signalCode);
    else proc.once('exit', onExit);
  });
  return Promise.race([promise, gaveUp]).finally(() => {
    clearTimeout(timer);
    if (onExit) proc.off('exit', onExit);
  });
}

/**
 * `promise`, for a wait on many events (results of commands in flight): a
 * GaveUp once `count()` has not moved for `ms`, however long the whole takes.
 */
export function progressing(promise, count, ms, what) {
  let last = count();
  let since = Date.now();
  let check;
  const stalled = new Promise((_, reject) => {
    check = setInterval(() => {
      const now = count();
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > waitMs(ms))
        reject(new GaveUp(`gave up after ${waitMs(ms) / 1000} s without progress waiting for ${what} (${now} so far)`));
    }, 500);
  });
  return Promise.race([promise, stalled]).finally(() => clearInterval(check));
}
