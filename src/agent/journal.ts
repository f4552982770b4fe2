/**
 * The command journal: every accepted command message is appended before the
 * broker gets its PUBACK, and every result after it is published. It answers
 * two questions across a crash (SIGKILL included, since appends are in the
 * page cache the moment write(2) returns):
 *  - a QoS 1 redelivery (DUP) of an id that already ran: here is its result;
 *  - commands acknowledged but not finished when the process died: run them now.
 *
 * Memory holds only what those questions need: the messages still pending,
 * and the results of the last `window` commands that carried their own id
 * (a made-up id can never come back). Results are kept as their JSON text:
 * one string per entry instead of an object graph that would churn the old
 * generation of the heap on a busy agent.
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

type Line = { t: 'a'; k: string; m: JournaledMessage } | { t: 'r'; k: string; r: CommandResult };

const MAX_KEPT_RESULT = 64 * 1024;

/** Keys of commands whose sender chose the id: only those can be redelivered with it. */
export const userKey = (id: string): string => `u:${id}`;
const isUserKey = (key: string): boolean => key.startsWith('u:');

export class CommandJournal {
  readonly #pending = new Map<string, JournaledMessage>();
  /** key → the result's JSON, oldest first. */
  readonly #results = new Map<string, string>();
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
        if (line.t === 'a') {
          // An id reused for a fresh command: the old answer no longer applies.
          this.#results.delete(line.k);
          this.#pending.delete(line.k);
          this.#pending.set(line.k, line.m);
        } else {
          this.#pending.delete(line.k);
          if (isUserKey(line.k)) this.#keep(line.k, JSON.stringify(line.r));
        }
      }
    }
    this.#trimPending();
    const pending = [...this.#pending].map(([key, message]) => ({ key, message }));
    this.#compact();
    return pending;
  }

  has(key: string): boolean {
    return this.#pending.has(key) || this.#results.has(key);
  }

  result(key: string): CommandResult | undefined {
    const text = this.#results.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as CommandResult);
  }

  accepted(key: string, message: JournaledMessage): void {
    this.#results.delete(key);
    this.#pending.delete(key);
    this.#pending.set(key, message);
    this.#trimPending();
    this.#append(`{"t":"a","k":${JSON.stringify(key)},"m":${JSON.stringify(message)}}`);
  }

  /** `encoded` is the result as published, when the caller has it already. */
  finished(key: string, result: CommandResult, encoded = JSON.stringify(result)): void {
    this.#pending.delete(key);
    // A redelivery is answered from here; a huge read result is not worth keeping for that.
    const kept = encoded.length <= MAX_KEPT_RESULT ? encoded : JSON.stringify({ ...result, result: { note: 'result too large to keep for redelivery' } });
    if (isUserKey(key)) this.#keep(key, kept);
    this.#append(`{"t":"r","k":${JSON.stringify(key)},"r":${kept}}`);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #keep(key: string, text: string): void {
    this.#results.delete(key);
    this.#results.set(key, text);
    while (this.#results.size > this.window) {
      const oldest = this.#results.keys().next();
      if (oldest.done) break;
      this.#results.delete(oldest.value);
    }
  }

  /** Pending commands past the window are long dead (their device never answered): forget them. */
  #trimPending(): void {
    while (this.#pending.size > Math.max(this.window, 1000)) {
      const oldest = this.#pending.keys().next();
      if (oldest.done) break;
      this.#pending.delete(oldest.value);
    }
  }

  #append(line: string): void {
    if (this.window === 0) return;
    if (this.#fd < 0) this.#fd = openSync(this.#file, 'a');
    writeSync(this.#fd, `${line}\n`);
    if (++this.#lines > this.window * 4 + 1000) this.#compact();
  }

  /** Rewrites the file with what memory still holds; rename makes the switch atomic. */
  #compact(): void {
    if (this.window === 0) return;
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w');
    let lines = 0;
    for (const [k, text] of this.#results) {
      writeSync(fd, `{"t":"r","k":${JSON.stringify(k)},"r":${text}}\n`);
      lines++;
    }
    for (const [k, m] of this.#pending) {
      writeSync(fd, `{"t":"a","k":${JSON.stringify(k)},"m":${JSON.stringify(m)}}\n`);
      lines++;
    }
    closeSync(fd);
    this.close();
    renameSync(tmp, this.#file);
    this.#lines = lines;
  }
}
