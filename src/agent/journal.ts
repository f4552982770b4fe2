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
 *
 * The file (journal-file.ts) never takes the agent down: on a full, read-only
 * or failing disk the journal carries on in memory (`health` says degraded,
 * and why) and becomes a file again by itself once a write succeeds.
 */
import { createHash } from 'node:crypto';
import type { CommandResult } from './result.js';
import { JournalFile, type JournalHealth, type JournalText } from './journal-file.js';
import { line, parseJournal, type JournaledMessage, type Line } from './journal-format.js';
import type { CorruptJournal, InterruptedWhy, Recovery } from './recovery.js';

export type { JournalHealth } from './journal-file.js';
export type { JournaledMessage } from './journal-format.js';
export type { InterruptedWhy, Recovery } from './recovery.js';

export interface JournalOptions {
  /** Called when the journal's health changes (see journal-file.ts). */
  readonly onHealth?: (health: JournalHealth) => void;
  /** The longest wait between retries while degraded. */
  readonly retryMaxMs?: number;
  /**
   * A journal file start-up could not read and left in place (journal-file.ts) was read at last, and
   * merged: what it holds unfinished, to be answered as start-up's `recover()` result is (its pending
   * commands as `late`: never run this late). Called in a later turn once the merged journal has been
   * written whole, never after close().
   */
  readonly onLateRecovery?: (recovery: Recovery) => void;
}

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
/**
 * A command without an id is known to a redelivery only by its packet
 * identifier, which the broker keeps when it sends an unacknowledged message
 * again, with the payload's digest: `{packetId}:{sha1, base64}`.
 */
export const packetTag = (packetId: number, payload: Buffer): string =>
  `${packetId}:${createHash('sha1').update(payload).digest('base64')}`;
/**
 * Packet identifiers are 16 bits and brokers hand them out in turn: past this
 * many remembered, an old one could be taken for a new message's.
 */
const MAX_PACKETS = 30_000;
const isUserKey = (key: string): boolean => key.startsWith('u:');
const withoutPayload = (m: JournaledMessage): JournaledMessage => (m.payload ? { ...m, payload: '' } : m);

/** Drops the `count` oldest keys of `map` (a Map or Set: insertion order) through `drop`, with one iterator. */
function dropOldest<K>(map: { keys(): Iterable<K> }, count: number, drop: (key: K) => void): void {
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

const undeliveredOf = (key: string, u: Unconfirmed): Recovery['undelivered'][number] => ({
  key,
  message: u.message,
  result: JSON.parse(u.text) as CommandResult,
  encoded: u.text,
});

export class CommandJournal {
  readonly #pending = new Map<string, JournaledMessage>();
  /** Pending commands whose handler has started. */
  readonly #started = new Set<string>();
  /** key → the result's JSON, oldest first (sender ids only: what a redelivery may ask for). */
  readonly #results = new Map<string, string>();
  /** `topic\0packet` of recent commands without an id (their JournaledMessage.packet), oldest first. */
  readonly #packets = new Set<string>();
  /** Results the broker has not confirmed yet, with where they go. */
  readonly #unconfirmed = new Map<string, Unconfirmed>();
  readonly #file: JournalFile;
  /** Lines in the file (since its last rewrite): past a bound it is compacted. */
  #lines = 0;
  #bytes = 0;
  /** Lines not written yet; a flush is always scheduled while it holds any. */
  #buffer = '';
  #flushScheduled = false;
  #closed = false;
  /** Found by #lateRead, to be answered once a whole journal on disk holds them (see there). */
  #late: Recovery[] = [];

  /** `dir`: node.journalDir; `window`: security.dedupeWindow (0: no journal at all). */
  constructor(
    dir: string,
    private readonly window: number,
    o: JournalOptions = {},
  ) {
    this.#file = new JournalFile(dir, {
      snapshot: () => this.#snapshot(),
      lateRead: (found) => this.#lateRead(found),
      onHealth: (h) => {
        o.onHealth?.(h);
        if (h.state === 'ok') this.#answerLate(o.onLateRecovery);
      },
      ...(o.retryMaxMs !== undefined ? { retryMaxMs: o.retryMaxMs } : {}),
    });
  }

  /** Where the journal lives. */
  get file(): string {
    return this.#file.file;
  }

  get health(): JournalHealth {
    return this.#file.health;
  }

  /** Loads the journal; returns the messages accepted but never started, in arrival order. */
  open(): Array<{ key: string; message: JournaledMessage }> {
    return [...this.recover().pending];
  }

  /**
   * Loads the journal and sorts out what the previous run left unfinished.
   * Never throws: unreadable lines are reported (the file moved aside), and
   * storage that cannot be written leaves the journal degraded (see journal-file.ts).
   */
  recover(): Recovery {
    if (this.window === 0) return { pending: [], interrupted: [], undelivered: [], tornTail: false };
    const { found, unreadable } = this.#file.read();
    let tornTail = false;
    // A file left in place (not the card's fault) is not corrupt: the health says what to do about it.
    const corrupt: CorruptJournal[] = unreadable.filter((u) => !('left' in u)).map((u) => ({ lines: [], ...u }));
    if (found) {
      const parsed = parseJournal(found.text);
      for (const entry of parsed.lines) this.#load(entry);
      tornTail = parsed.tornTail;
      // Moved aside, not dropped: a person may want to see what damaged it.
      if (parsed.bad.length) corrupt.push({ file: found.file, lines: parsed.bad, ...this.#file.moveAside(found.file) });
    }
    this.#trim(0);
    const pending: Array<{ key: string; message: JournaledMessage }> = [];
    const interrupted: Array<{ key: string; message: JournaledMessage; why: InterruptedWhy }> = [];
    for (const [key, message] of this.#pending) {
      if (this.#started.has(key)) interrupted.push({ key, message, why: 'crash' });
      else if (found?.stale) interrupted.push({ key, message, why: 'stale' });
      else pending.push({ key, message });
    }
    const undelivered = [...this.#unconfirmed].map(([key, u]) => undeliveredOf(key, u));
    const written = this.#compact();
    // Run now, they would stay pending in a file that cannot be changed: every later start would run them again.
    if (!written && this.#file.unmarked) interrupted.push(...pending.splice(0).map((p) => ({ ...p, why: 'unrecordable' as const })));
    return { pending, interrupted, undelivered, tornTail, ...(corrupt.length ? { corrupt } : {}) };
  }

  has(key: string): boolean {
    return this.#pending.has(key) || this.#results.has(key);
  }

  /**
   * Whether a DUP of a command without an id (`packet`: packetTag) is one this
   * journal accepted already, in this run or one before it: after a crash
   * caught it running, running it again could crash the agent again, forever.
   */
  redelivered(topic: string, packet: string): boolean {
    return this.#packets.has(`${topic}\u0000${packet}`);
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
    this.#append(line.accepted(key, message), false);
  }

  /** The handler is about to run: from here on a crash must not run it again. */
  started(key: string): void {
    if (!this.#pending.has(key) || this.#started.has(key)) return;
    this.#started.add(key);
    this.#append(line.started(key), true);
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
    this.#append(line.result(key, kept), true);
  }

  /** The broker has the result: no need to publish it again after a crash. */
  delivered(key: string): void {
    if (!this.#unconfirmed.has(key)) return;
    this.#confirm(key);
    // Lost in a crash, it only means the result is published once more: the contract allows that.
    this.#append(line.delivered(key), false);
  }

  close(): void {
    this.#closed = true;
    this.#flush();
    // One last try: storage may have come back since the last retry.
    if (this.window > 0 && this.#file.health.state === 'degraded') this.#compact();
    this.#file.close();
  }

  /**
   * A file start-up left unread, read at last (journal-file.ts): its lines go beneath what this run has
   * done since (the snapshot, loaded again on top), so a command this run finished stays finished.
   * What it holds unfinished and this run has not touched is handed over to be answered, never run.
   */
  #lateRead(file: JournalText): void {
    const since = parseJournal([...this.#snapshot(), ''].join('\n')).lines;
    // Not in the snapshot (it keeps no finished command without an id): kept as they are, newest last.
    const packets = [...this.#packets];
    this.#pending.clear();
    this.#started.clear();
    this.#results.clear();
    this.#packets.clear();
    this.#unconfirmed.clear();
    this.#bytes = 0;
    const parsed = parseJournal(file.text);
    for (const entry of parsed.lines) this.#load(entry);
    const left = { pending: [...this.#pending], started: new Set(this.#started), unconfirmed: [...this.#unconfirmed] };
    for (const entry of since) this.#load(entry);
    for (const tag of packets) {
      this.#packets.delete(tag);
      this.#packets.add(tag);
    }
    this.#trim(0);
    // Untouched since: the same object, not one this run's snapshot made again.
    const interrupted = left.pending
      .filter(([key, message]) => this.#pending.get(key) === message)
      .map(([key, message]) => ({
        key,
        message,
        why: left.started.has(key) ? ('crash' as const) : file.stale ? ('stale' as const) : ('late' as const),
      }));
    const undelivered = left.unconfirmed.filter(([key, u]) => this.#unconfirmed.get(key) === u).map(([key, u]) => undeliveredOf(key, u));
    const corrupt: CorruptJournal[] = parsed.bad.length ? [{ file: file.file, lines: parsed.bad, ...this.#file.moveAside(file.file) }] : [];
    this.#late.push({ pending: [], interrupted, undelivered, tornTail: parsed.tornTail, ...(corrupt.length ? { corrupt } : {}) });
  }

  /**
   * Once the rewrite that merged them has worked (the health back to ok), in a later turn. Answered before,
   * a command would be `canceled` while the file on disk, still the old one where that rewrite failed (its
   * directory not writable yet, a full card), shows it waiting: the next start would run it after all.
   */
  #answerLate(then: ((r: Recovery) => void) | undefined): void {
    if (!this.#late.length) return;
    const found = this.#late.splice(0);
    setImmediate(() => {
      if (!this.#closed) for (const r of found) then?.(r);
    });
  }

  #load(entry: Line): void {
    switch (entry.t) {
      case 'a':
        this.#accept(entry.k, entry.m);
        break;
      case 's':
        if (this.#pending.has(entry.k)) this.#started.add(entry.k);
        break;
      case 'r':
        this.#finish(entry.k, JSON.stringify(entry.r), entry.p === 1);
        break;
      case 'p':
        this.#confirm(entry.k);
        break;
      case 'h':
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
    if (message.packet !== undefined) {
      const tag = `${message.topic}\u0000${message.packet}`;
      this.#packets.delete(tag);
      this.#packets.add(tag);
    }
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
    const packets = Math.min(this.window, MAX_PACKETS);
    if (this.#packets.size > packets + slack) dropOldest(this.#packets, this.#packets.size - packets, (t) => this.#packets.delete(t));
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
    const text = this.#buffer;
    this.#buffer = '';
    this.#file.append(text);
    // Up to four lines a command: compacting past eight a window leaves a window's worth between rewrites.
    if (this.#lines > this.window * 8 + 1000 && this.#file.health.state === 'ok') this.#compact();
  }

  /** Rewrites the file with what memory holds (journal-file.ts makes the switch atomic); false when storage refused. */
  #compact(): boolean {
    if (this.window === 0) return true;
    // What memory holds is the whole truth: lines still buffered are in it already.
    this.#buffer = '';
    return this.#file.rewrite();
  }

  /** The journal as memory holds it, line by line; counts them for the next compaction. */
  *#snapshot(): Generator<string> {
    this.#lines = 0;
    for (const [k, text] of this.#results) {
      if (this.#unconfirmed.has(k)) continue;
      this.#lines++;
      yield line.result(k, text, true);
    }
    // An unconfirmed result needs the topic it goes to: its message (without payload), then the result.
    for (const [k, u] of this.#unconfirmed) {
      this.#lines += 2;
      yield line.accepted(k, u.message);
      yield line.result(k, u.text);
    }
    for (const [k, m] of this.#pending) {
      this.#lines++;
      yield line.accepted(k, m);
      if (this.#started.has(k)) {
        this.#lines++;
        yield line.started(k);
      }
    }
  }
}
