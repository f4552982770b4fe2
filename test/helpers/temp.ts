/**
 * Temp dirs of the tests: each is made here and removed when its test file
 * ends (test/setup-cleanup.ts), or at the latest when the worker exits, so a
 * run leaves no `dev2mqtt-*` behind. Processes that use one are stopped by the
 * tests' own afterAll hooks, which run before the removal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made = new Set<string>();

export function tempDir(prefix = 'dev2mqtt-test-'): string {
  if (!prefix.startsWith('dev2mqtt-')) throw new Error(`temp dirs of the tests are named dev2mqtt-…, not ${prefix}`);
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

process.once('exit', removeTempDirs);
