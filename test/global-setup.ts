/**
 * Builds dist/ once before the tests: some tests run the real `dev2mqtt`
 * binary or child processes, and they must see the code under test.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'],
    { cwd: root, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}
