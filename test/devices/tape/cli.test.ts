/**
 * The tape drive from the command line, as a user runs it: `dev2mqtt exec
 * tape0 status` (the `mt status` of dev2mqtt), a writeFile with its progress
 * as plain lines into a pipe and as a bar on a terminal, and check-config's
 * warning about a rewinding device.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAUNCHER, runCli } from '../../helpers/cli.js';
import { requireTools } from '../../helpers/tools.js';
import { tempDir } from './sim-helpers.js';
import { deadline } from '../../helpers/deadline.js';

function configWith(tape: Record<string, unknown>): { file: string; files: string } {
  const dir = tempDir('dev2mqtt-tapecli-');
  const files = path.join(dir, 'files');
  fs.mkdirSync(files);
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      node: { id: 'cli1', stateDir: path.join(dir, 'state') },
      devices: [{ id: 'tape0', kind: 'tape', ...tape, options: { filesDir: files, ...(tape.options as object | undefined) } }],
    }),
  );
  return { file, files };
}

/** A transfer that takes about 2.5 s of simulated time: long enough for progress reports. */
const SLOW = { sim: true, options: { sim: { timing: { bytesPerS: 2 * 1024 * 1024 } } } };

describe('dev2mqtt exec on a tape drive', () => {
  it('exec tape0 status prints the status JSON and exits 0', () => {
    const { file } = configWith({ sim: true });
    const r = runCli(['exec', '-c', file, 'tape0', 'status']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      ok: true,
      device: 'tape0',
      command: 'status',
      result: {
        driveType: 'SCSI-2',
        online: true,
        bot: true,
        fileNumber: 0,
        blockNumber: 0,
        blockSize: 0,
        density: 0x58,
        writeProtected: false,
      },
    });
  });

  it('exec with requireWritable on a protected cartridge exits 1 with the reason', () => {
    const { file } = configWith({ sim: true, options: { sim: { writeProtected: true } } });
    const r = runCli(['exec', '-c', file, 'tape0', 'status', '{"requireOnline":true,"requireWritable":true}']);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'device_error', reason: 'write_protected' } });
  });

  it('exec writeFile prints progress as plain lines when stderr is not a terminal', () => {
    const { file, files } = configWith(SLOW);
    fs.writeFileSync(path.join(files, 'big.bin'), Buffer.alloc(5 * 1024 * 1024, 1));
    const r = runCli(['exec', '-c', file, 'tape0', 'writeFile', '{"name":"big.bin"}']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: { bytes: 5 * 1024 * 1024, records: 80 } });
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^progress: +\d+% {2}[\d.]+ (B|KiB|MiB) \/ 5\.0 MiB {2}[\d.]+ (B|KiB|MiB)\/s$/);
    expect(r.stderr).not.toContain('\r');
  });

  const haveScript = requireTools('the tape CLI progress bar on a terminal (script gives it one)', 'script');
  it.skipIf(!haveScript)('exec writeFile draws a progress bar on a terminal', () => {
    const { file, files } = configWith(SLOW);
    fs.writeFileSync(path.join(files, 'big.bin'), Buffer.alloc(5 * 1024 * 1024, 1));
    const cmd = [process.execPath, LAUNCHER, 'exec', '-c', file, 'tape0', 'writeFile', '{"name":"big.bin"}']
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(' ');
    const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: deadline(60_000) });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\r\[#*\.*\] +\d+%/);
    expect(r.stdout).toContain('"ok": true');
  });
});

describe('check-config on a tape drive', () => {
  it('warns about a rewinding /dev/stN and names /dev/nstN; the config is still valid', () => {
    const { file } = configWith({ sim: false, options: { path: '/dev/st0' } });
    const r = runCli(['check-config', '-c', file]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: .*tape0.*\/dev\/st0 is a rewinding tape device.*use \/dev\/nst0/);
    const ok = configWith({ sim: false, options: { path: '/dev/nst0' } });
    expect(runCli(['check-config', '-c', ok.file]).stderr).toBe('');
  });
});
