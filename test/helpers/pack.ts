/**
 * The npm tarball as a user makes it: `npm pack` (with its prepack/prepare
 * scripts) in a copy of the files a clean clone has, so the build there does
 * not rewrite the dist/ other tests run. And the same tarball with another
 * version, for upgrade tests.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deadline } from './deadline.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: deadline(300_000) });
}

export function must(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Packs the project into `outDir`; returns the tarball's path. The copy it packs in is removed
 * afterwards unless `keepCopy` (the caller checks what pack left there).
 */
export function packTarball(outDir: string, o: { keepCopy?: (copy: string) => void } = {}): string {
  // The files a clean clone has (tracked, plus new ones not ignored), without tests.
  const files = must(run('git', ['ls-files', '--cached', '--others', '--exclude-standard'], REPO), 'git ls-files')
    .split('\n')
    .filter((f) => f && !f.startsWith('test/') && existsSync(path.join(REPO, f)));
  const copy = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-pack-'));
  try {
    for (const f of files) cpSync(path.join(REPO, f), path.join(copy, f), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
    mkdirSync(outDir, { recursive: true });
    const name = must(run('npm', ['pack', '--pack-destination', outDir, '--loglevel=error'], copy), 'npm pack')
      .trim()
      .split('\n')
      .at(-1)!;
    o.keepCopy?.(copy);
    return path.join(outDir, name);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** The tarball again, its package.json saying `version`: dev2mqtt-<version>.tgz beside it. */
export function withVersion(tarball: string, version: string): string {
  const work = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-repack-'));
  try {
    must(run('tar', ['-xzf', tarball, '-C', work], work), 'tar -x');
    const file = path.join(work, 'package/package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
    pkg.version = version;
    writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
    const out = path.join(path.dirname(tarball), `dev2mqtt-${version}.tgz`);
    must(run('tar', ['-czf', out, '-C', work, 'package'], work), 'tar -c');
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The next patch version: 0.1.0 → 0.1.1. */
export function nextPatch(version: string): string {
  const [major, minor, patch] = version.split('-')[0]!.split('.').map(Number);
  return `${major}.${minor}.${(patch ?? 0) + 1}`;
}
