/**
 * The command journal's file (journal.ts keeps what it means). Nothing here
 * throws: storage is the part of a Raspberry Pi most likely to fail (a full,
 * read-only or dying SD card), and none of that may stop the agent serving
 * its devices. Any I/O error switches the file to *degraded*: what would be
 * written is dropped (memory holds the whole truth), the health says why,
 * and a rewrite of everything memory holds is retried with backoff until
 * one succeeds, which makes the file whole again.
 *
 * A file left behind by a degraded run is a prefix of the truth: a command it
 * shows as accepted may have run since. So on degrading the file is renamed
 * `journal.stale.jsonl`, which the next start reads knowing that (no command
 * in it runs again). Where even the rename fails (a read-only filesystem),
 * `unmarked` says so, for the caller to act on.
 *
 * A file start-up cannot read at all is moved aside when the medium is
 * damaged, and otherwise left exactly where it is (journal-unreadable.ts):
 * the journal degrades, and each retry reads it again first; once it can,
 * its lines go to the caller (`lateRead`) before the rewrite replaces it.
 *
 * The file is held open only while it is being written (closed after a
 * moment without writes), so an administrator can remount its filesystem
 * read-only: Linux refuses that while any file on it is open for writing.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { makeDir } from '../make-dir.js';
import { backoffDelayMs } from '../backoff.js';
import { describeIoError as describe, errnoOf } from '../io-error.js';
import { damagedMedium, leftUnreadReason, remedy } from './journal-unreadable.js';

export interface JournalHealth {
  readonly state: 'ok' | 'degraded';
  /** When degraded: the errno, the path, and what that means for commands, in words a user can act on. */
  readonly reason?: string;
  /** When degraded: the errno name (`ENOSPC`, `EROFS`, `EIO` …). */
  readonly errno?: string;
}

export interface JournalFileOptions {
  /** Every line the journal would hold now: what a rewrite writes (compaction, and the retry after a fault). */
  readonly snapshot: () => Iterable<string>;
  /** Called when the health changes: ok ↔ degraded, or the errno while degraded. */
  readonly onHealth?: (health: JournalHealth) => void;
  /** The longest wait between two retries while degraded (the first comes after a second). */
  readonly retryMaxMs?: number;
  /** A file start-up had to leave unread (see the header), read at last: merge it, it is about to be replaced. */
  readonly lateRead?: (found: JournalText) => void;
}

/** What start-up found on disk. */
export interface JournalText {
  readonly text: string;
  /** Left by a run that could not keep it up to date: its commands may have run since. */
  readonly stale: boolean;
  readonly file: string;
}

/**
 * A journal file read(2) refused. A damaged medium (EIO: a bad block): moved aside like a corrupt one (`to`), or
 * where even that failed, left where it is (`error`). Any other errno: left where it is on purpose (`left`: what to do).
 */
export type UnreadableJournal = {
  readonly file: string;
  /** The errno and the file, e.g. `EIO (input/output error) reading …/journal.jsonl`. */
  readonly unreadable: string;
} & ({ readonly to: string } | { readonly error: string } | { readonly left: string });

/** What start-up found: the newest journal it could read, and the files it could not. */
export interface JournalFound {
  readonly found?: JournalText;
  readonly unreadable: readonly UnreadableJournal[];
}

export const JOURNAL_FILE = 'journal.jsonl';
export const STALE_FILE = 'journal.stale.jsonl';
/** Without a write for this long the file is closed (see the header). */
const IDLE_CLOSE_MS = 100;
const RETRY_MIN_MS = 1000;
/** The first line of every rewrite: a format version, and a write that needs space even when nothing else is kept. */
const HEADER = '{"t":"h","v":1}';
const MEMORY_ONLY =
  'the command journal is kept in memory only; commands still run and redeliveries are still recognised, ' +
  'but a crash or restart now loses what it would have kept. Retrying.';

/** Writes all of `text`, past short writes (a filesystem filling up writes what fits, then fails). */
function writeAll(fd: number, text: string): void {
  const done = writeSync(fd, text);
  const total = Buffer.byteLength(text);
  if (done >= total) return;
  const rest = Buffer.from(text).subarray(done);
  for (let at = 0; at < rest.length;) at += writeSync(fd, rest, at, rest.length - at);
}

export class JournalFile {
  readonly dir: string;
  readonly file: string;
  readonly #stale: string;
  readonly #o: JournalFileOptions;
  #fd = -1;
  #health: JournalHealth = { state: 'ok' };
  /** The file on disk may claim commands are pending that have run since, and could not be renamed stale. */
  #unmarked = false;
  /** Files start-up could not read and left in place (see the header): read again before any rewrite. */
  #left: string[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  #retries = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #wroteSinceIdleCheck = false;
  #closed = false;

  constructor(dir: string, o: JournalFileOptions) {
    this.dir = dir;
    this.file = path.join(dir, JOURNAL_FILE);
    this.#stale = path.join(dir, STALE_FILE);
    this.#o = o;
  }

  get health(): JournalHealth {
    return this.#health;
  }

  /** Degraded, and the file on disk could not be marked stale: a restart would trust it. */
  get unmarked(): boolean {
    return this.#unmarked;
  }

  /**
   * The journal a previous run left: the live file, else a stale one, else nothing. Never throws.
   * The stale one is read also when the live one cannot be: it is older, but what it says ran did run,
   * and what it holds unfinished is answered, never run (`stale`). A file that cannot be read at all
   * is moved aside or left in place by its errno (see the header, and journal-unreadable.ts).
   */
  read(): JournalFound {
    try {
      makeDir(this.dir);
    } catch (e) {
      this.#degrade(e, 'creating', this.dir);
    }
    const unreadable: UnreadableJournal[] = [];
    for (const [file, stale] of [
      [this.file, false],
      [this.#stale, true],
    ] as const) {
      try {
        return { found: { text: readFileSync(file, 'utf8'), stale, file }, unreadable };
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') unreadable.push(this.#unreadable(e, file));
      }
    }
    return { unreadable };
  }

  /**
   * A damaged medium's file is a corrupt journal with no readable line: moved aside under the corrupt
   * name, so that a fresh journal takes its place and a person can still try to copy it off; where even
   * that rename fails (the card is failing as a whole), it stays and the journal degrades. Any other
   * file is left as it is, and the journal degrades until a retry can read it.
   */
  #unreadable(e: unknown, file: string): UnreadableJournal {
    const unreadable = `${describe(e)} reading ${file}`;
    const errno = errnoOf(e);
    if (!damagedMedium(errno)) {
      this.#left.push(file);
      this.#degrade(e, 'reading', file, leftUnreadReason(errno, file));
      return { file, unreadable, left: remedy(errno, file) };
    }
    const aside = this.moveAside(file);
    if ('error' in aside) this.#degrade(e, 'reading', file);
    return { file, unreadable, ...aside };
  }

  /**
   * The files start-up left unread, read again and handed to `lateRead`; false while one still cannot be.
   * Newest first: each goes beneath what memory holds, so the older stale one ends beneath the live one.
   */
  #readLeft(): boolean {
    const texts: JournalText[] = [];
    for (const [file, stale] of [
      [this.file, false],
      [this.#stale, true],
    ] as const) {
      if (!this.#left.includes(file)) continue;
      try {
        texts.push({ text: readFileSync(file, 'utf8'), stale, file });
      } catch (e) {
        // Removed by a person: there is nothing left to merge.
        if (errnoOf(e) === 'ENOENT') continue;
        this.#degrade(e, 'reading', file, leftUnreadReason(errnoOf(e), file));
        return false;
      }
    }
    this.#left = [];
    for (const t of texts) this.#o.lateRead?.(t);
    return true;
  }

  /** Moves a journal that holds unreadable lines out of the way, for a person to look at; returns where. */
  moveAside(file: string): { to: string } | { error: string } {
    const at = new Date().toISOString().replace(/:/g, '-');
    // rename(2) replaces: two files moved aside in the same millisecond (a live and a stale one) keep both.
    let to = path.join(this.dir, `journal.corrupt-${at}.jsonl`);
    for (let n = 2; existsSync(to); n++) to = path.join(this.dir, `journal.corrupt-${at}-${n}.jsonl`);
    try {
      renameSync(file, to);
      return { to };
    } catch (e) {
      return { error: `${describe(e)} renaming ${file} to ${to}` };
    }
  }

  /** Appends lines (each ending in a newline); dropped while degraded. */
  append(text: string): void {
    if (this.#health.state === 'degraded' || this.#closed) return;
    try {
      if (this.#fd < 0) {
        // 0600: commands and results may hold what only the agent's user should read (a SIM PIN, tape data).
        this.#fd = openSync(this.file, 'a', 0o600);
        this.#armIdleClose();
      }
      this.#wroteSinceIdleCheck = true;
      writeAll(this.#fd, text);
    } catch (e) {
      this.#degrade(e, 'writing', this.file);
    }
  }

  /**
   * Replaces the file with the snapshot's lines, atomically (a new file renamed
   * over the old one). Returns whether it worked; a success ends a degraded spell.
   */
  rewrite(): boolean {
    // Never over a file that still holds what ran before: it is read, and merged, first.
    if (this.#left.length && !this.#readLeft()) return false;
    const tmp = `${this.file}.tmp`;
    let fd = -1;
    let doing = 'creating';
    let at = tmp;
    try {
      makeDir(this.dir);
      fd = openSync(tmp, 'w', 0o600);
      doing = 'writing';
      // Written in large pieces: at start-up a full window is ten thousand lines.
      let chunk = `${HEADER}\n`;
      for (const line of this.#o.snapshot()) {
        chunk += `${line}\n`;
        if (chunk.length >= 1 << 20) {
          writeAll(fd, chunk);
          chunk = '';
        }
      }
      writeAll(fd, chunk);
      closeSync(fd);
      fd = -1;
      this.#closeFd();
      doing = 'renaming to';
      at = this.file;
      renameSync(tmp, this.file);
      // A stale journal is superseded by this one (it was read in before, if it was the newest).
      doing = 'removing';
      at = this.#stale;
      rmSync(this.#stale, { force: true });
    } catch (e) {
      if (fd >= 0) this.#closeQuietly(fd);
      try {
        rmSync(tmp, { force: true });
      } catch {
        // A read-only filesystem: there is no half-written file to remove either.
      }
      this.#degrade(e, doing, at);
      return false;
    }
    this.#recovered();
    return true;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#idleTimer);
    this.#retryTimer = undefined;
    this.#idleTimer = undefined;
    this.#closeFd();
  }

  #degrade(e: unknown, doing: string, at: string, consequence = MEMORY_ONLY): void {
    this.#closeFd();
    const errno = errnoOf(e);
    const was = this.#health;
    if (was.state === 'ok') this.#markStale();
    if (was.state === 'ok' || was.errno !== errno || !was.reason?.endsWith(consequence)) {
      this.#health = {
        state: 'degraded',
        ...(errno ? { errno } : {}),
        reason: `${describe(e)} ${doing} ${at}: ${consequence}`,
      };
      this.#o.onHealth?.(this.#health);
    }
    this.#scheduleRetry();
  }

  #recovered(): void {
    this.#retries = 0;
    this.#unmarked = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#health.state === 'ok') return;
    this.#health = { state: 'ok' };
    this.#o.onHealth?.(this.#health);
  }

  /** See the header: the file on disk is now out of date; tell the next start so. */
  #markStale(): void {
    // A file left unread is not this run's to rename (see the header).
    if (this.#left.includes(this.file)) return;
    try {
      renameSync(this.file, this.#stale);
    } catch (e) {
      this.#unmarked = errnoOf(e) !== 'ENOENT';
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    const delay = backoffDelayMs(RETRY_MIN_MS, Math.max(RETRY_MIN_MS, this.#o.retryMaxMs ?? 30_000), this.#retries++);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.rewrite();
    }, delay);
    this.#retryTimer.unref();
  }

  #armIdleClose(): void {
    if (this.#idleTimer) return;
    this.#wroteSinceIdleCheck = false;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#wroteSinceIdleCheck) this.#armIdleClose();
      else this.#closeFd();
    }, IDLE_CLOSE_MS);
    this.#idleTimer.unref();
  }

  #closeFd(): void {
    if (this.#fd >= 0) this.#closeQuietly(this.#fd);
    this.#fd = -1;
  }

  #closeQuietly(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // close(2) releases the descriptor even when it reports a deferred write error.
    }
  }
}
