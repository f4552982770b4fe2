/**
 * The offline buffer's overflow on disk (`telemetry.offlineBuffer.spill`):
 * files under `{stateDir}/offline/`, each written once, whole, in one write,
 * and deleted once replayed. Nothing is written while the broker link is up,
 * and nothing per message: the flash sees one large sequential write per
 * half-buffer, only during an outage that outgrows memory.
 *
 * Storage must never take the agent down: a failed write or read (ENOSPC,
 * EROFS, EIO …) turns the spill `degraded` with the reason, and the buffer
 * drops its oldest messages in memory instead, as it does without a spill.
 * It tries the disk again after a backoff and is `ok` again once a write
 * succeeds. Files left by a previous run (a stop while disconnected) are
 * replayed at the first connect.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import type { DroppedSpan, HeldMessage } from './offline-buffer.js';

/** Hears what was lost: `span.count` messages of `device` from firstTs to lastTs. */
export type DropReport = (device: string, span: DroppedSpan) => void;

interface Segment {
  readonly file: string;
  readonly count: number;
  readonly bytes: number;
  /** Per device: what dropping the file unread loses. */
  readonly spans: ReadonlyMap<string, DroppedSpan>;
}

const SEGMENT = /^(\d{12})\.jsonl$/;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 300_000;

/** Per device: how many of `messages`, from when to when. */
export function spansOf(messages: readonly HeldMessage[]): Map<string, DroppedSpan> {
  const spans = new Map<string, DroppedSpan>();
  for (const m of messages) {
    const s = spans.get(m.device);
    if (!s) spans.set(m.device, { count: 1, firstTs: m.ts, lastTs: m.ts });
    else {
      s.count++;
      s.lastTs = m.ts;
    }
  }
  return spans;
}

/** What the replay can publish; anything else on a line (a corrupted card) would crash it. */
function isHeld(v: unknown): v is HeldMessage {
  const m = v as Partial<HeldMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.topic === 'string' &&
    typeof m.payload === 'string' &&
    typeof m.device === 'string' &&
    Number.isFinite(m.ts)
  );
}

function parse(text: string): HeldMessage[] {
  const out: HeldMessage[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const m: unknown = JSON.parse(line);
      if (isHeld(m)) out.push(m);
    } catch {
      // A torn last line (power lost mid-write): the rest is good.
    }
  }
  return out;
}

export class SpillStore {
  readonly #dir: string;
  readonly #segments: Segment[] = [];
  #seq = 0;
  #messages = 0;
  #bytes = 0;
  #error = '';
  #failures = 0;
  #retryAt = 0;
  /** The file whose messages the replay is publishing (read, not yet done with). */
  #reading: string | undefined;

  constructor(
    stateDir: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    /** The first wait before trying a failed disk again (tests: 0). */
    private readonly retryMinMs = RETRY_MIN_MS,
  ) {
    this.#dir = path.join(stateDir, 'offline');
    this.#load();
  }

  get messages(): number {
    return this.#messages;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** A file is being replayed (read, not yet done with). */
  get replaying(): boolean {
    return this.#reading !== undefined;
  }

  /** Working, or failed long enough ago to try again. */
  usable(): boolean {
    return this.maxBytes > 0 && (!this.#error || performance.now() >= this.#retryAt);
  }

  status(): Record<string, unknown> {
    return this.#error
      ? { state: 'degraded', reason: this.#error, files: this.#segments.length }
      : { state: 'ok', files: this.#segments.length };
  }

  /** One new file with `messages`; past maxBytes the oldest files go (`dropped` hears what they held). */
  write(messages: readonly HeldMessage[], dropped: DropReport): boolean {
    const text = messages.map((m) => JSON.stringify(m)).join('\n') + '\n';
    const file = path.join(this.#dir, `${String(++this.#seq).padStart(12, '0')}.jsonl`);
    try {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      // 0600: events may carry what only the agent's user should read (modem URCs, tape data).
      writeFileSync(file, text, { mode: 0o600 });
    } catch (e) {
      this.#failed('write', e);
      try {
        unlinkSync(file); // a partial file would replay half a batch after a restart
      } catch {
        // nothing was written, or the disk refuses even that: the next load skips torn lines
      }
      return false;
    }
    this.#recovered();
    this.#add({ file, count: messages.length, bytes: Buffer.byteLength(text), spans: spansOf(messages) });
    while (this.#bytes > this.maxBytes && this.#segments.length > 1) this.#dropOldest(dropped);
    return true;
  }

  /**
   * The oldest file's messages; a file that cannot be read counts as dropped. The file stays on
   * disk until doneReading(): a stop or crash before its messages are all published must not lose them.
   */
  readOldest(dropped: DropReport): HeldMessage[] {
    this.doneReading();
    const seg = this.#segments[0];
    if (!seg) return [];
    let messages: HeldMessage[] | undefined;
    try {
      messages = parse(readFileSync(seg.file, 'utf8'));
    } catch (e) {
      this.#failed('read', e);
    }
    if (!messages) {
      this.#dropOldest(dropped);
      return [];
    }
    this.#forget(seg);
    this.#reading = seg.file;
    return messages;
  }

  /** Every message of the file readOldest() last returned has been published: it goes. */
  doneReading(): void {
    const file = this.#reading;
    if (file === undefined) return;
    this.#reading = undefined;
    this.#unlink(file);
  }

  /**
   * A stop before the file being replayed is through: it keeps only `rest`, what was not yet
   * published, and stays first in line for the next run (one write, at a stop only). False when it
   * could not be written: the file keeps what it held, and nothing of `rest` that was not in it.
   */
  keepUnread(rest: readonly HeldMessage[]): boolean {
    const file = this.#reading;
    if (file === undefined) return true;
    if (!rest.length) {
      this.doneReading();
      return true;
    }
    try {
      writeFileSync(file, rest.map((m) => JSON.stringify(m)).join('\n') + '\n', { mode: 0o600 });
      this.#reading = undefined;
      return true;
    } catch (e) {
      // The whole file is still there: the next run publishes some messages twice, but loses none of its own.
      this.#failed('write', e);
      return false;
    }
  }

  #load(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir).filter((n) => SEGMENT.test(n));
    } catch {
      return; // no spill files yet (or no directory): nothing to replay
    }
    for (const name of names.sort()) {
      const file = path.join(this.#dir, name);
      this.#seq = Math.max(this.#seq, Number(SEGMENT.exec(name)?.[1]));
      try {
        const text = readFileSync(file, 'utf8');
        const messages = parse(text);
        this.#add({ file, count: messages.length, bytes: Buffer.byteLength(text), spans: spansOf(messages) });
      } catch (e) {
        this.log.warn({ file, err: (e as Error).message }, 'offline buffer: a spill file from the previous run cannot be read; skipped');
      }
    }
  }

  #add(seg: Segment): void {
    this.#segments.push(seg);
    this.#messages += seg.count;
    this.#bytes += seg.bytes;
  }

  #forget(seg: Segment): void {
    this.#segments.splice(this.#segments.indexOf(seg), 1);
    this.#messages -= seg.count;
    this.#bytes -= seg.bytes;
  }

  #unlink(file: string): void {
    try {
      unlinkSync(file);
    } catch (e) {
      // Left behind, it would be replayed again after a restart: say so, but do not stop.
      this.#failed('delete', e);
    }
  }

  #dropOldest(dropped: DropReport): void {
    const seg = this.#segments[0];
    if (!seg) return;
    this.#forget(seg);
    this.#unlink(seg.file);
    for (const [device, span] of seg.spans) dropped(device, span);
  }

  #failed(op: string, e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    const reason = `${op} ${this.#dir}: ${err.code ?? err.message}`;
    if (reason !== this.#error) this.log.warn({ reason }, 'offline buffer: spilling to disk failed; keeping what fits in memory');
    this.#error = reason;
    this.#retryAt = performance.now() + backoffDelayMs(this.retryMinMs, RETRY_MAX_MS, this.#failures++);
  }

  #recovered(): void {
    if (!this.#error) return;
    this.log.info({ was: this.#error }, 'offline buffer: spilling to disk works again');
    this.#error = '';
    this.#failures = 0;
  }
}
