/**
 * The command journal: every accepted command message is appended before the
 * broker gets its PUBACK, a line when its handler starts, its result when it
 * is done, and a line when the broker has that result. It answers these
 * questions across a crash (SIGKILL included, since appends are in the page
 * cache the moment write(2) returns):
 *  - a QoS 1 redelivery (DUP) of an id that already ran: here is its result;
 *  - commands acknowledged but never started when the process died: run them now;
 *  - commands the crash caught running: not run again (the relay may have
 *    switched, the tape moved), answered as interrupted instead;
 *  - results the broker never confirmed: publish them again.
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
  /** Its payload is dropped once the command has finished: only a replay needs it. */
  message?: JournaledMessage;
  /** Its handler was started: after a crash it must not run again. */
  started?: boolean;
  result?: CommandResult;
  /** The broker confirmed the result (or it had none to confirm). */
  delivered?: boolean;
  /** Roughly what it holds in memory, for the byte budget. */
  bytes: number;
}

/** What a restart has to finish, in arrival order. */
export interface Recovery {
  /** Accepted, never started: run them. */
  readonly pending: ReadonlyArray<{ key: string; message: JournaledMessage }>;
  /** Started, never finished: answer them, do not run them again. */
  readonly interrupted: ReadonlyArray<{ key: string; message: JournaledMessage }>;
  /** Finished, but the broker never confirmed the result: publish it again. */
  readonly undelivered: ReadonlyArray<{ key: string; message: JournaledMessage; result: CommandResult }>;
}

const MAX_KEPT_RESULT = 64 * 1024;
/**
 * What the window may hold in memory at most, whatever the senders do: ten
 * thousand 64 KiB payloads or results would otherwise be 640 MiB on a Pi.
 * Past it the oldest entries go first, as past `window`.
 */
const MAX_BYTES = 32 * 1024 * 1024;
const ENTRY_OVERHEAD = 128;

/** JSON that never throws (BigInt, cycles, nesting too deep for the stack): undefined instead. */
function safeJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return undefined;
  }
}

const messageBytes = (m: JournaledMessage): number => m.topic.length + m.payload.length + (m.responseTopic?.length ?? 0) + (m.correlationData?.length ?? 0);

type Line =
  | { t: 'a'; k: string; m: JournaledMessage }
  | { t: 's'; k: string }
  | { t: 'r'; k: string; r: CommandResult }
  | { t: 'p'; k: string };

export class CommandJournal {
  readonly #entries = new Map<string, Entry>();
  readonly #file: string;
  #fd = -1;
  #lines = 0;
  #bytes = 0;

  constructor(stateDir: string, private readonly window: number) {
    this.#file = path.join(stateDir, 'journal.jsonl');
  }

  /** Loads the journal; returns the messages accepted but never started, in arrival order. */
  open(): Array<{ key: string; message: JournaledMessage }> {
    return [...this.recover().pending];
  }

  /** Loads the journal and sorts what the previous run left unfinished. */
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
        if (line.t === 'a') {
          // An id reused for a fresh command starts a fresh entry at the end.
          this.#remove(line.k);
          this.#add(line.k, { message: line.m, bytes: ENTRY_OVERHEAD + messageBytes(line.m) });
          continue;
        }
        const e = this.#entries.get(line.k) ?? this.#add(line.k, { bytes: ENTRY_OVERHEAD });
        if (line.t === 's') e.started = true;
        else if (line.t === 'r') this.#setResult(e, line.r, text.length);
        else e.delivered = true;
      }
    }
    this.#trim();
    const pending: Array<{ key: string; message: JournaledMessage }> = [];
    const interrupted: Array<{ key: string; message: JournaledMessage }> = [];
    const undelivered: Array<{ key: string; message: JournaledMessage; result: CommandResult }> = [];
    for (const [key, e] of this.#entries) {
      if (!e.message) continue;
      if (e.result) {
        if (!e.delivered) undelivered.push({ key, message: e.message, result: e.result });
      } else {
        (e.started ? interrupted : pending).push({ key, message: e.message });
      }
    }
    this.#compact();
    return { pending, interrupted, undelivered };
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  result(key: string): CommandResult | undefined {
    return this.#entries.get(key)?.result;
  }

  accepted(key: string, message: JournaledMessage): void {
    this.#remove(key);
    this.#add(key, { message, bytes: ENTRY_OVERHEAD + messageBytes(message) });
    this.#append({ t: 'a', k: key, m: message });
    this.#trim();
  }

  /** The handler is about to run: from here on a crash must not run it again. */
  started(key: string): void {
    const e = this.#entries.get(key);
    if (!e || e.started) return;
    e.started = true;
    this.#append({ t: 's', k: key });
  }

  finished(key: string, full: CommandResult): void {
    // A redelivery is answered from here; a huge read result is not worth keeping for that.
    const text = safeJson(full);
    const result = text !== undefined && text.length <= MAX_KEPT_RESULT ? full : { ...full, result: { note: 'result too large to keep for redelivery' } };
    const e = this.#entries.get(key) ?? this.#add(key, { bytes: ENTRY_OVERHEAD });
    this.#setResult(e, result, text !== undefined && text.length <= MAX_KEPT_RESULT ? text.length : 256);
    this.#append({ t: 'r', k: key, r: result });
    this.#trim();
  }

  /** The broker has the result: no need to publish it again after a crash. */
  delivered(key: string): void {
    const e = this.#entries.get(key);
    if (!e || e.delivered) return;
    e.delivered = true;
    this.#append({ t: 'p', k: key });
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #append(line: Line): void {
    if (this.window === 0) return;
    if (this.#fd < 0) this.#fd = openSync(this.#file, 'a');
    const text = safeJson(line);
    if (text === undefined) return;
    writeSync(this.#fd, `${text}\n`);
    // Up to four lines an entry: compacting at eight per entry leaves a window's worth of appends between rewrites.
    if (++this.#lines > this.window * 8) this.#compact();
  }

  #add(key: string, e: Entry): Entry {
    this.#entries.set(key, e);
    this.#bytes += e.bytes;
    return e;
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#bytes -= e.bytes;
    this.#entries.delete(key);
  }

  /** The result replaces the payload: once a command has finished, nothing needs it again. */
  #setResult(e: Entry, result: CommandResult, resultBytes: number): void {
    if (e.message?.payload) {
      e.bytes -= e.message.payload.length;
      this.#bytes -= e.message.payload.length;
      e.message = { ...e.message, payload: '' };
    }
    e.result = result;
    e.bytes += resultBytes;
    this.#bytes += resultBytes;
  }

  #trim(): void {
    while (this.#entries.size > this.window || (this.#bytes > MAX_BYTES && this.#entries.size > 1)) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#remove(oldest.value);
    }
  }

  /** Rewrites the file with what the window still holds; rename makes the switch atomic. */
  #compact(): void {
    if (this.window === 0) return;
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w');
    let lines = 0;
    for (const [k, e] of this.#entries) {
      const out: Line[] = [];
      if (e.message) out.push({ t: 'a', k, m: e.message });
      if (e.started) out.push({ t: 's', k });
      if (e.result) out.push({ t: 'r', k, r: e.result });
      if (e.delivered) out.push({ t: 'p', k });
      for (const line of out) writeSync(fd, `${safeJson(line) ?? ''}\n`);
      lines += out.length;
    }
    closeSync(fd);
    this.close();
    renameSync(tmp, this.#file);
    this.#lines = lines;
  }
}
