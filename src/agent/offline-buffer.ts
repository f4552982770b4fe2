/**
 * What the agent saw while its broker link was down — GPIO edges, modem URCs
 * and line changes, tape progress, device state changes — kept in order and
 * bounded, to be published when the link is back (telemetry.ts adds the
 * original `ts` and `replayed: true` when it keeps a message).
 *
 * Memory first, within `maxMessages` and `maxBytes`. Past those bounds the
 * oldest go to the spill files (offline-spill.ts) when spilling is on and
 * works, and are dropped otherwise; a dropped message is counted against its
 * device, so the replay can say how many of that device's messages are
 * missing and from when to when. Spilled messages are always older than the
 * ones in memory: the replay reads the files first.
 */
import { spansOf, type SpillStore } from './offline-spill.js';

export interface HeldMessage {
  readonly topic: string;
  readonly payload: string;
  readonly device: string;
  /** When it happened (epoch ms): the dropped notice says which span is missing. */
  readonly ts: number;
}

export interface DroppedSpan {
  count: number;
  firstTs: number;
  lastTs: number;
}

export interface OfflineBufferLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/**
 * Bytes a message costs, near enough: its strings as UTF-8 (what goes on the wire and into a
 * spill file), not their length in UTF-16 code units, which undercounts anything non-ASCII
 * (a modem URC's text, a device name) by up to three times.
 */
const sizeOf = (m: HeldMessage): number => Buffer.byteLength(m.topic) + Buffer.byteLength(m.payload) + Buffer.byteLength(m.device) + 32;

export class OfflineBuffer {
  /** Oldest first; `#head` is the index of the oldest still held (shifting an array of 10,000 per message costs). */
  #mem: HeldMessage[] = [];
  #head = 0;
  /** A spill file read back for the replay, not yet handed out: older than anything in memory. */
  #replaying: HeldMessage[] = [];
  /** The last batch take() handed out, not known to be published until the next take(). */
  #handedOut: HeldMessage[] = [];
  #handedOutFromSpill = false;
  #bytes = 0;
  #dropped = new Map<string, DroppedSpan>();
  #droppedTotal = 0;

  constructor(
    private readonly limits: OfflineBufferLimits,
    private readonly spill?: SpillStore,
  ) {}

  /** Messages held, in memory and spilled. */
  get held(): number {
    return this.#replaying.length + this.#mem.length - this.#head + (this.spill?.messages ?? 0);
  }

  push(m: HeldMessage): void {
    if (this.limits.maxMessages === 0) {
      this.#drop(m);
      return;
    }
    this.#mem.push(m);
    this.#bytes += sizeOf(m);
    while (this.#memCount > this.limits.maxMessages || (this.#bytes > this.limits.maxBytes && this.#memCount > 0)) {
      if (!this.#spillOldestHalf()) this.#drop(this.#shift());
    }
  }

  /** The dropped spans per device since the last call: published once, before the replay. */
  takeDropped(): Map<string, DroppedSpan> {
    const d = this.#dropped;
    this.#dropped = new Map();
    return d;
  }

  /**
   * Up to `n` held messages, oldest first (spilled ones before those in memory), no longer held.
   * Called again only once the previous batch is published: until then persist() keeps that batch.
   */
  take(n: number): HeldMessage[] {
    this.#handedOut = [];
    if (!this.#replaying.length) {
      // The file read last is all published: it can go.
      this.spill?.doneReading();
      if (this.spill?.messages) this.#replaying = this.spill.readOldest(this.#dropSpan);
    }
    if (this.#replaying.length) {
      this.#handedOutFromSpill = true;
      return (this.#handedOut = this.#replaying.splice(0, n));
    }
    const out = this.#mem.slice(this.#head, this.#head + n);
    this.#head += out.length;
    for (const m of out) this.#bytes -= sizeOf(m);
    this.#compactIfEmptyish();
    this.#handedOutFromSpill = false;
    return (this.#handedOut = out);
  }

  /** The broker has every message of the last batch take() handed out. */
  published(): void {
    this.#handedOut = [];
  }

  /** One handed-out message the broker refused for good: counted as dropped, said before the rest. */
  lost(m: HeldMessage): void {
    this.#handedOut = this.#handedOut.filter((h) => h !== m);
    this.#drop(m);
  }

  /**
   * A graceful stop while disconnected (or in the middle of a replay): what is not yet published —
   * the last batch handed out, the rest of the spill file being replayed, memory — goes to the
   * spill files in order, so the next run publishes it, after `older` (published before the link went
   * and never confirmed; behind files spilled meanwhile, if any, which nothing is written before).
   * Without a spill (or when it cannot be written) that is lost: counted as dropped, and returned
   * per device for the stop to say.
   */
  persist(older: readonly HeldMessage[] = []): Map<string, DroppedSpan> {
    const fromSpill = this.#handedOutFromSpill ? this.#handedOut : [];
    const unread = [...fromSpill, ...this.#replaying];
    // `older` (sent before the link went, never confirmed) goes first: into the file being replayed if there is one.
    // When that file cannot be rewritten it keeps what it held, so `older` goes with the rest instead.
    const olderInFile = this.spill?.replaying === true && this.spill.keepUnread([...older, ...unread]);
    this.#replaying = [];
    const rest = [...(olderInFile ? [] : older), ...(this.#handedOutFromSpill ? [] : this.#handedOut), ...this.#mem.slice(this.#head)];
    this.#handedOut = [];
    const kept = !rest.length || this.spill?.write(rest, this.#dropSpan) === true;
    this.#mem = [];
    this.#head = 0;
    this.#bytes = 0;
    if (kept) return new Map();
    const lost = spansOf(rest);
    for (const [device, span] of lost) this.#dropSpan(device, span);
    return lost;
  }

  /** For node state. */
  status(): Record<string, unknown> {
    return {
      held: this.held,
      heldBytes: this.#bytes + (this.spill?.bytes ?? 0),
      dropped: this.#droppedTotal,
      spill: this.spill ? this.spill.status() : { state: 'off' },
    };
  }

  get #memCount(): number {
    return this.#mem.length - this.#head;
  }

  #shift(): HeldMessage {
    const m = this.#mem[this.#head++] as HeldMessage;
    this.#bytes -= sizeOf(m);
    this.#compactIfEmptyish();
    return m;
  }

  #compactIfEmptyish(): void {
    if (this.#head === this.#mem.length) {
      this.#mem = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#mem.length) {
      this.#mem = this.#mem.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Moves the older half of memory to a spill file, in one write; false when spilling is off or failing. */
  #spillOldestHalf(): boolean {
    if (!this.spill?.usable()) return false;
    const count = Math.max(1, Math.ceil(this.#memCount / 2));
    const oldest = this.#mem.slice(this.#head, this.#head + count);
    if (!this.spill.write(oldest, this.#dropSpan)) return false;
    this.#head += count;
    for (const m of oldest) this.#bytes -= sizeOf(m);
    this.#compactIfEmptyish();
    return true;
  }

  #drop(m: HeldMessage): void {
    this.#dropSpan(m.device, { count: 1, firstTs: m.ts, lastTs: m.ts });
  }

  readonly #dropSpan = (device: string, lost: DroppedSpan): void => {
    this.#droppedTotal += lost.count;
    const span = this.#dropped.get(device);
    if (!span) this.#dropped.set(device, { ...lost });
    else {
      span.count += lost.count;
      span.firstTs = Math.min(span.firstTs, lost.firstTs);
      span.lastTs = Math.max(span.lastTs, lost.lastTs);
    }
  };
}
