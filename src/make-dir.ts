/**
 * `mkdir -p` that reports the real errno. Node's recursive mkdir says ENOENT
 * when a missing level cannot be made on a read-only filesystem (Node 20);
 * mkdir(2) of that level says EROFS, ENOSPC or EACCES. The difference matters:
 * ENOENT reads as "the device is gone", and the user is told the wrong cause.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const codeOf = (e: unknown): unknown => (e as { code?: unknown } | null)?.code;

export function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    return;
  } catch (e) {
    if (codeOf(e) !== 'ENOENT') throw e;
  }
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if (codeOf(e) !== 'EEXIST') throw e;
    }
  }
}
