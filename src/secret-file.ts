import { readFileSync } from 'node:fs';

/** A password kept in a file: its text, without the newline an editor leaves at the end. */
export function readSecretFile(file: string): string {
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}
