/**
 * LogOutput on a pipe whose reader is behind: libuv makes a pipe stdout
 * non-blocking once process.stdout is touched (the CLI does at start), so a
 * full pipe answers EAGAIN. A reader that is only slow (journald busy on a slow
 * card, `| tee`) must lose nothing; one that stopped reading must not hang the
 * agent. The writer is a child process on dist/ (built by the global setup)
 * with stdout piped to this test, which decides when to read.
 */
import { spawn } from 'node:child_process';
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

/** Runs the child; reads its stdout once it said the pipe is full (`readWhenFull`), else only after it exits. */
function run(lines: number, stallMs: number, readWhenFull: boolean): Promise<Run> {
  const p = spawn(process.execPath, ['--input-type=module', '-e', child(lines, stallMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout.pause();
  const chunks: Buffer[] = [];
  let err = '';
  let reading = false;
  const read = (): void => {
    if (reading) return;
    reading = true;
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stdout.resume();
  };
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (readWhenFull && err.startsWith('full\n')) read();
  });
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => {
      const report = err.split('\n')[1];
      if (code !== 0 || !report) return reject(new Error(`child exited ${code}: ${err}`));
      resolve({ stdout: Buffer.concat(chunks).toString(), report: JSON.parse(report) as Run['report'] });
    });
    if (!readWhenFull) p.on('exit', read);
  });
}

describe('LogOutput on a non-blocking pipe', () => {
  it('waits for a reader that is behind: every line arrives whole, in order, and the log stays ok', async () => {
    const { stdout, report } = await run(2000, 60_000, true);
    const got = stdout.split('\n').slice(0, -1);
    expect(got).toHaveLength(report.filled + 2000);
    const logged = got.map((l) => JSON.parse(l) as { kind: string; i: number }).filter((l) => l.kind === 'log');
    expect(logged.map((l) => l.i)).toEqual([...Array(2000).keys()]);
    expect(report.health).toEqual({ state: 'ok', dropped: 0 });
  });

  it('a reader that stopped reading degrades the log after one wait instead of hanging the writer', async () => {
    const { report } = await run(50, 100, false);
    expect(report.health).toMatchObject({ state: 'degraded', errno: 'EAGAIN', dropped: 50 });
  });
});
