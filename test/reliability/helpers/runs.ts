/** Reads the file the counter plug-in (test/fixtures/counter-kind.js) appends each run's id to. */
import { readFileSync } from 'node:fs';

/** Id → how many times it ran (an id never run is absent). */
export function runsPerId(file: string): Map<string, number> {
  const runs = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return runs;
  }
  for (const id of text.split('\n').filter(Boolean)) runs.set(id, (runs.get(id) ?? 0) + 1);
  return runs;
}
