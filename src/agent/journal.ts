/**
 * The command journal: every accepted command message is appended before the
 * broker gets its PUBACK, a line when its handler starts, its result when it
 * is done, and a line when the broker has that result. It answers these
 * questions across a crash (SIGKILL included, since appends are in the page
 * cache the moment write(2) returns):
 *  - a QoS 1 redelivery (DUP) of an id that already ran: here is its result;
 *  - commands acknowledged but never started when the process died: run them now;
 *  - commands the crash caught running: not run again (a relay may have
 *    switched, a tape moved), answered as interrupted instead;
 *  - results the broker never confirmed: publish them again.
 *
 * Memory holds only what those questions need: the messages still pending,
 * the results of the last `window` commands that carried their own id (a
 * made-up id can never come back; while running, trimmed in batches of a
 * sixteenth of the window), and results until the broker confirms
 * them (milliseconds, unless it is down). Results are kept as their JSON
 * text: one string per entry instead of an object graph that would churn the
 * old generation of the heap on a busy agent. All of it stays under MAX_BYTES,
 * whatever senders publish.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { CommandResult } from './result.js';

/** What is needed to run a command again after a restart. */
export interface JournaledMessage {
  readonly topic: string;
  /** base64; empty once the command has finished (only a replay needs it). */
  readonly payload: string;
  readonly responseTopic?: string;
  /** base64 */
  readonly correlationData?: string;
  readonly receivedAtMs: number;
}

/** What a restart has to finish, in arrival order. */
export interface Recovery {
  /** Accepted, never started: run them. */
  readonly pending: ReadonlyArray<{ key: string; message: JournaledMessage }>;
  /** Started, never finished: answer them, do not run them again. */
  readonly interrupted: ReadonlyArray<{ key: string; message: JournaledMessage }>;
  /** Finished, but the broker never confirmed the result: publish it again. */
  readonly undelivered: ReadonlyArray<{ key: string; message: JournaledMessage; result: CommandResult; encoded: string }>;
}

/** a: accepted, s: started, r: result (`p`: already confirmed, written by compaction), p: the broker has the result. */
type Line =
  | { t: 'a'; k: string; m: JournaledMessage }
  | { t: 's'; k: string }
  | { t: 'r'; k: string; r: CommandResult; p?: 1 }
  | { t: 'p'; k: string };

const MAX_KEPT_RESULT = 64 * 1024;
/**
 * The most the journal holds in memory: ten thousand 64 KiB payloads or
 * results would otherwise be 640 MiB on a Pi. Past it the oldest kept
 * results go first, then the oldest pending commands.
 */
const MAX_BYTES = 32 * 1024 * 1024;

/**
 * Keys of commands whose sender chose the id: only those can be redelivered
 * with it. Ids are per command topic (the same id on two devices is two
 * commands); a topic cannot hold U+0000, so the key is unambiguous.
 */
export const userKey = (topic: string, id: string): string => `u:${topic}\u0000${id}`;
const isUserKey = (key: string): boolean => key.startsWith('u:');
const withoutPayload = (m: JournaledMessage): JournaledMessage => (m.payload ? { ...m, payload: '' } : m);

/** Drops the `count` oldest keys of `map` (insertion order) through `drop`, with one iterator. */
function dropOldest<K, V>(map: Map<K, V>, count: number, drop: (key: K) => void): void {
  const doomed: K[] = [];
  for (const key of map.keys()) {
    if (doomed.length >= count) break;
    doomed.push(key);
  }
  for (const key of doomed) drop(key);
}

interface Unconfirmed {
  readonly message: JournaledMessage;
  readonly text: string;
}

export class CommandJournal {
  readonly #pending = new Map<string, JournaledMessage>();
  /** Pending commands whose handler has started. */
  readonly #started = new Set<string>();
  /** key → the result's JSON, oldest first (sender ids only: what a redelivery may ask for). */
  readonly #results = new Map<string, string>();
  /** Results the broker has not confirmed yet, with where they go. */
  readonly #unconfirmed = new Map<string, Unconfirmed>();
  readonly #file: string;
  #fd = -1;
  #lines = 0;
  #bytes = 0;
  /** Lines not written yet; a flush is always scheduled while it holds any. */
  #buffer = '';
  #flushScheduled = false;

  constructor(
    stateDir: string,
    private readonly window: number,
  ) {
    this.#file = path.join(stateDir, 'journal.jsonl');
  }

  /** Loads the journal; returns the messages accepted but never started, in arrival order. */
  open(): Array<{ key: string; message: JournaledMessage }> {
    return [...this.recover().pending];
  }

  /** Loads the journal and sorts out what the previous run left unfinished. */
  recover(): Recovery {
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
        this.#load(line);
      }
    }
    this.#trim(0);
    const pending: Array<{ key: string; message: JournaledMessage }> = [];
    const interrupted: Array<{ key: string; message: JournaledMessage }> = [];
    for (const [key, message] of this.#pending) (this.#started.has(key) ? interrupted : pending).push({ key, message });
    const undelivered = [...this.#unconfirmed].map(([key, u]) => ({
      key,
      message: u.message,
      result: JSON.parse(u.text) as CommandResult,
      encoded: u.text,
    }));
    this.#compact();
    return { pending, interrupted, undelivered };
  }

  has(key: string): boolean {
    return this.#pending.has(key) || this.#results.has(key);
  }

  result(key: string): CommandResult | undefined {
    const text = this.#results.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as CommandResult);
  }

  accepted(key: string, message: JournaledMessage): void {
    this.#accept(key, message);
    this.#trim();
    // Written with `started` when the handler runs at once, else by the flush this schedules, which
    // runs before the PUBACK: MQTT.js defers that to a setImmediate queued after this message's handler.
    this.#append(`{"t":"a","k":${JSON.stringify(key)},"m":${JSON.stringify(message)}}`, false);
  }

  /** The handler is about to run: from here on a crash must not run it again. */
  started(key: string): void {
    if (!this.#pending.has(key) || this.#started.has(key)) return;
    this.#started.add(key);
    this.#append(`{"t":"s","k":${JSON.stringify(key)}}`, true);
  }

  /** `encoded` is the result as published, when the caller has it already. */
  finished(key: string, result: CommandResult, encoded = JSON.stringify(result)): void {
    // A redelivery is answered from here; a huge read result is not worth keeping for that.
    const kept =
      encoded.length <= MAX_KEPT_RESULT
        ? encoded
        : JSON.stringify({ ...result, result: { note: 'result too large to keep for redelivery' } });
    this.#finish(key, kept, false);
    this.#trim();
    // Before the result is published: a crash after that must not answer the command as interrupted.
    this.#append(`{"t":"r","k":${JSON.stringify(key)},"r":${kept}}`, true);
  }

  /** The broker has the result: no need to publish it again after a crash. */
  delivered(key: string): void {
    if (!this.#unconfirmed.has(key)) return;
    this.#confirm(key);
    // Lost in a crash, it only means the result is published once more: the contract allows that.
    this.#append(`{"t":"p","k":${JSON.stringify(key)}}`, false);
  }

  close(): void {
    this.#flush();
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #load(line: Line): void {
    switch (line.t) {
      case 'a':
        this.#accept(line.k, line.m);
        break;
      case 's':
        if (this.#pending.has(line.k)) this.#started.add(line.k);
        break;
      case 'r':
        this.#finish(line.k, JSON.stringify(line.r), line.p === 1);
        break;
      case 'p':
        this.#confirm(line.k);
        break;
    }
  }

  #accept(key: string, message: JournaledMessage): void {
    // An id reused for a fresh command: the old answer no longer applies.
    this.#dropResult(key);
    this.#confirm(key);
    this.#dropPending(key);
    this.#pending.set(key, message);
    this.#bytes += message.payload.length;
  }

  #finish(key: string, text: string, confirmed: boolean): void {
    const message = this.#pending.get(key);
    this.#dropPending(key);
    if (isUserKey(key)) {
      this.#dropResult(key);
      this.#results.set(key, text);
      this.#bytes += text.length;
    }
    // Only a journaled command knows where its result goes, so only its result can be sent again.
    if (message && !confirmed) {
      this.#confirm(key);
      this.#unconfirmed.set(key, { message: withoutPayload(message), text });
      this.#bytes += text.length;
    }
  }

  #confirm(key: string): void {
    const u = this.#unconfirmed.get(key);
    if (!u) return;
    this.#bytes -= u.text.length;
    this.#unconfirmed.delete(key);
  }

  #dropResult(key: string): void {
    const text = this.#results.get(key);
    if (text === undefined) return;
    this.#bytes -= text.length;
    this.#results.delete(key);
  }

  #dropPending(key: string): void {
    const m = this.#pending.get(key);
    if (!m) return;
    this.#bytes -= m.payload.length;
    this.#pending.delete(key);
    this.#started.delete(key);
  }

  /**
   * Results past the window go, and unconfirmed ones past the larger of it and
   * 1,000 (`slack` more are let through, so that a busy agent trims in batches);
   * pending commands past that are long dead (their device never answered);
   * and nothing stays past the byte budget.
   */
  #trim(slack = this.#slack): void {
    const oldest = <K, V>(m: Map<K, V>): K => m.keys().next().value as K;
    if (this.#results.size > this.window + slack) dropOldest(this.#results, this.#results.size - this.window, (k) => this.#dropResult(k));
    const most = Math.max(this.window, 1000);
    if (this.#unconfirmed.size > most + slack) dropOldest(this.#unconfirmed, this.#unconfirmed.size - most, (k) => this.#confirm(k));
    while (this.#bytes > MAX_BYTES && this.#results.size) this.#dropResult(oldest(this.#results));
    while (this.#bytes > MAX_BYTES && this.#unconfirmed.size) this.#confirm(oldest(this.#unconfirmed));
    while (this.#pending.size > 1 && (this.#pending.size > most || this.#bytes > MAX_BYTES)) this.#dropPending(oldest(this.#pending));
  }

  /**
   * Trimming a map a key at a time costs an iterator that skips every deleted
   * slot before the oldest live one; trimming past a slack costs one per batch.
   */
  get #slack(): number {
    return Math.max(64, this.window >> 4);
  }

  /**
   * `now`: written before this returns (a line that must precede an effect);
   * otherwise with the next line that must, or at the latest by a setImmediate.
   * One write(2) for several lines is most of what the journal costs a command.
   */
  #append(line: string, now: boolean): void {
    if (this.window === 0) return;
    this.#buffer += `${line}\n`;
    this.#lines++;
    if (now) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  #flush(): void {
    if (!this.#buffer) return;
    // 0600: commands and results may hold what only the agent's user should read (a SIM PIN, tape data).
    if (this.#fd < 0) this.#fd = openSync(this.#file, 'a', 0o600);
    const text = this.#buffer;
    this.#buffer = '';
    writeSync(this.#fd, text);
    // Up to four lines a command: compacting past eight a window leaves a window's worth between rewrites.
    if (this.#lines > this.window * 8 + 1000) this.#compact();
  }

  /** Rewrites the file with what memory still holds; rename makes the switch atomic. */
  #compact(): void {
    if (this.window === 0) return;
    // What memory holds is the whole truth: lines still buffered are in it already.
    this.#buffer = '';
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    let lines = 0;
    // Written in large pieces: at start-up a full window is ten thousand lines.
    let chunk = '';
    const put = (line: string): void => {
      chunk += `${line}\n`;
      lines++;
      if (chunk.length >= 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    };
    for (const [k, text] of this.#results) {
      if (!this.#unconfirmed.has(k)) put(`{"t":"r","k":${JSON.stringify(k)},"r":${text},"p":1}`);
    }
    // An unconfirmed result needs the topic it goes to: its message (without payload), then the result.
    for (const [k, u] of this.#unconfirmed) {
      put(`{"t":"a","k":${JSON.stringify(k)},"m":${JSON.stringify(u.message)}}`);
      put(`{"t":"r","k":${JSON.stringify(k)},"r":${u.text}}`);
    }
    for (const [k, m] of this.#pending) {
      put(`{"t":"a","k":${JSON.stringify(k)},"m":${JSON.stringify(m)}}`);
      if (this.#started.has(k)) put(`{"t":"s","k":${JSON.stringify(k)}}`);
    }
    if (chunk) writeSync(fd, chunk);
    closeSync(fd);
    this.close();
    renameSync(tmp, this.#file);
    this.#lines = lines;
  }
}
