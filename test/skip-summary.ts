/**
 * A reporter that ends the run with one line per skipped suite and why
 * (`skipped: the ACL suite (mosquitto not installed: apt install mosquitto)`).
 * Suites note their skips (helpers/tools.ts) in a file named by an environment
 * variable set here, before the test workers start, so they inherit it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Reporter } from 'vitest/node';
import { SKIP_LOG_ENV } from './helpers/tools.js';

export default class SkipSummary implements Reporter {
  #dir = '';

  onInit(): void {
    this.#dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-skips-'));
    const file = path.join(this.#dir, 'skipped.txt');
    writeFileSync(file, '');
    process.env[SKIP_LOG_ENV] = file;
    // A run cut short still removes its note file.
    process.once('exit', () => rmSync(this.#dir, { recursive: true, force: true }));
  }

  onTestRunEnd(): void {
    const file = process.env[SKIP_LOG_ENV] ?? '';
    const lines = [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))].sort();
    rmSync(this.#dir, { recursive: true, force: true });
    if (lines.length === 0) return;
    console.log(`\n${lines.join('\n')}\n${lines.length} suite${lines.length === 1 ? '' : 's'} skipped`);
  }
}
