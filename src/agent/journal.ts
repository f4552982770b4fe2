/**
 * The command journal: every accepted command message is appended before the
 * broker gets its PUBACK, and every result after it is published. It answers
 * two questions across a crash (SIGKILL included, since appends are in the
 * page cache the moment write(2) returns):
 *  - a QoS 1 redelivery (DUP) of an id that already ran: here is its result;
 *  - commands acknowledged but not finished when the process died: run them now.
 * It keeps the last `window` entries; older ones are compacted away.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { CommandResult } from './result.js';

/** What is needed to run a command again after a restart. */
export interface JournaledMessage {
  readonly topic: string;
  /** base64 */
  readonly payload: string;
  readonly responseTopic?: string;
  /** base64 */
  readonly correlationData?: string;
  readonly receivedAtMs: number;
}

interface Entry {
  message?: JournaledMessage;
  result?: CommandResult;
}

const MAX_KEPT_RESULT = 64 * 1024;

type Line = { t: 'a'; k: string; m: JournaledMessage } | { t: 'r'; k: string; r: CommandResult };

export class CommandJournal {
  readonly #entries = new Map<string, Entry>();
  readonly #file: string;
  #fd = -1;
  #lines = 0;

  constructor(stateDir: string, private readonly window: number) {
    this.#file = path.join(stateDir, 'journal.jsonl');
  }

  /** Loads the journal; returns the messages accepted but never answered, in arrival order. */
  open(): Array<{ key: string; message: JournaledMessage }> {
    mkdirSync(path.dirname(this.#file), { recursive: true });
    if (existsSync(this.#file)) {
      for (const text of readFileSync(this.#file, 'utf8').split('\n')) {
        if (!text) continue;
        let line: Line;
        try {
          line = JSON.parse(text) as Line;
        } catch {
          continue; // a torn last line from a crash mid-write
        }
        const e = this.#entries.get(line.k) ?? {};
        if (line.t === 'a') {
          // An id reused for a fresh command starts a fresh entry at the end.
          this.#entries.delete(line.k);
          this.#entries.set(line.k, { message: line.m });
        } else {
          e.result = line.r;
          this.#entries.set(line.k, e);
        }
      }
    }
    this.#trim();
    const pending = [...this.#entries].filter(([, e]) => e.message && !e.result).map(([key, e]) => ({ key, message: e.message as JournaledMessage }));
    this.#compact();
    return pending;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  result(key: string): CommandResult | undefined {
    return this.#entries.get(key)?.result;
  }

  accepted(key: string, message: JournaledMessage): void {
    this.#entries.delete(key);
    this.#entries.set(key, { message });
    this.#append({ t: 'a', k: key, m: message });
    this.#trim();
  }

  finished(key: string, full: CommandResult): void {
    // A redelivery is answered from here; a huge read result is not worth keeping for that.
    const result = JSON.stringify(full).length <= MAX_KEPT_RESULT ? full : { ...full, result: { note: 'result too large to keep for redelivery' } };
    const e = this.#entries.get(key);
    if (e) e.result = result;
    else this.#entries.set(key, { result });
    this.#append({ t: 'r', k: key, r: result });
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #append(line: Line): void {
    if (this.window === 0) return;
    if (this.#fd < 0) this.#fd = openSync(this.#file, 'a');
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    if (++this.#lines > this.window * 4) this.#compact();
  }

  #trim(): void {
    while (this.#entries.size > this.window) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** Rewrites the file with what the window still holds; rename makes the switch atomic. */
  #compact(): void {
    if (this.window === 0) return;
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w');
    let lines = 0;
    for (const [k, e] of this.#entries) {
      if (e.message) { writeSync(fd, `${JSON.stringify({ t: 'a', k, m: e.message })}\n`); lines++; }
      if (e.result) { writeSync(fd, `${JSON.stringify({ t: 'r', k, r: e.result })}\n`); lines++; }
    }
    closeSync(fd);
    this.close();
    renameSync(tmp, this.#file);
    this.#lines = lines;
  }
}
