/**
 * LogOutput on a pipe whose reader is behind: libuv makes a pipe stdout
 * non-blocking once process.stdout is touched (the CLI does at start), so a
 * full pipe answers EAGAIN. A reader that is only slow (journald busy on a slow
 * card, `| tee`) must lose nothing; one that stopped reading must not hang the
 * agent. The writer is a child process on dist/ (built by the global setup);
 * its stdout is a pipe this test reads when it decides to, or a FIFO nobody reads.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/log-output.js', import.meta.url));

/**
 * The child fills the pipe with whole 128-byte lines (atomic: under PIPE_BUF) until EAGAIN, says
 * `full` on stderr, then writes `lines` through a LogOutput, and reports its health on stderr.
 */
const child = (lines: number, stallMs: number): string => `
import { writeSync } from 'node:fs';
import { LogOutput } from ${JSON.stringify(dist)};
void process.stdout;
const line = (kind, i) => JSON.stringify({ kind, i, pad: '' }).padEnd(127, ' ') + '\\n';
let filled = 0;
for (;;) {
  try { writeSync(1, line('fill', filled)); filled++; } catch (e) { if (e.code === 'EAGAIN') break; throw e; }
}
process.stderr.write('full\\n');
const out = new LogOutput(1, 'stdout', ${stallMs});
for (let i = 0; i < ${lines}; i++) out.write(line('log', i));
process.stderr.write(JSON.stringify({ filled, health: out.health }) + '\\n');
`;

interface Run {
  readonly stdout: string;
  readonly report: { filled: number; health: { state: string; errno?: string; dropped: number } };
}

/** The child's report: the second line it writes on stderr. */
function reportOf(err: string, code: number | null): Run['report'] {
  const report = err.split('\n')[1];
  if (code !== 0 || !report) throw new Error(`child exited ${code}: ${err}`);
  return JSON.parse(report) as Run['report'];
}

/** Runs the child on a pipe to this process, which reads it once the child said the pipe is full. */
function runWithSlowReader(lines: number, stallMs: number): Promise<Run> {
  const p = spawn(process.execPath, ['--input-type=module', '-e', child(lines, stallMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.pause();
  const chunks: Buffer[] = [];
  let err = '';
  let reading = false;
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (reading || !err.startsWith('full\n')) return;
    reading = true;
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stdout.resume();
  });
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve({ stdout: Buffer.concat(chunks).toString(), report: reportOf(err, code) });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/**
 * Runs the child with stdout on a FIFO that this process holds open but never reads. A pipe to
 * this process would not do: Node reads a child's pipe into its own buffer even while the stream
 * is paused, so on a busy machine it empties the pipe after the child saw it full, and the lines
 * that should find no reader fit.
 */
async function runWithNoReader(lines: number, stallMs: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'dev2mqtt-log-fifo-'));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  // O_RDWR: Linux opens a FIFO so without waiting for a writer, and this end is never read.
  const fd = openSync(fifo, 'r+');
  try {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child(lines, stallMs)], { stdio: ['ignore', fd, 'pipe'] });
    let err = '';
    if (!p.stderr) throw new Error('the child has no stderr pipe');
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      p.on('error', reject);
      p.on('close', resolve);
    });
    return { stdout: '', report: reportOf(err, code) };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('LogOutput on a non-blocking pipe', () => {
  it('waits for a reader that is behind: every line arrives whole, in order, and the log stays ok', async () => {
    const { stdout, report } = await runWithSlowReader(2000, 60_000);
    const got = stdout.split('\n').slice(0, -1);
    expect(got).toHaveLength(report.filled + 2000);
    const logged = got.map((l) => JSON.parse(l) as { kind: string; i: number }).filter((l) => l.kind === 'log');
    expect(logged.map((l) => l.i)).toEqual([...Array(2000).keys()]);
    expect(report.health).toEqual({ state: 'ok', dropped: 0 });
  });

  it('a reader that stopped reading degrades the log after one wait instead of hanging the writer', async () => {
    const { report } = await runWithNoReader(50, 100);
    expect(report.health).toMatchObject({ state: 'degraded', errno: 'EAGAIN', dropped: 50 });
  });
});
