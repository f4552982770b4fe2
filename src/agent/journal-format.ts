/**
 * The command journal's lines, one JSON object each (journal.ts says what
 * they mean): how they are written, and how a start-up tells a line of ours
 * from garbage (a torn write, a damaged block, another program's text).
 */

/** What is needed to run a command again after a restart. */
export interface JournaledMessage {
  readonly topic: string;
  /** base64; empty once the command has finished (only a replay needs it). */
  readonly payload: string;
  readonly responseTopic?: string;
  /** base64 */
  readonly correlationData?: string;
  readonly receivedAtMs: number;
  /**
   * A command without an id: its packet identifier and a digest of its payload
   * (journal.ts, `redelivered`), what a DUP redelivery of it is known by.
   */
  readonly packet?: string;
}

/**
 * h: the header a rewrite starts with; a: accepted, s: started, r: result
 * (`p`: already confirmed, written by compaction), p: the broker has the result.
 */
export type Line =
  | { t: 'h' }
  | { t: 'a'; k: string; m: JournaledMessage }
  | { t: 's'; k: string }
  | { t: 'r'; k: string; r: CommandResult; p?: 1 }
  | { t: 'p'; k: string };

import type { CommandResult } from './result.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A line as written by this journal, or undefined for anything else (garbage, a torn write, another program's text). */
function parseLine(text: string): Line | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  if (v.t === 'h') return { t: 'h' };
  if (typeof v.k !== 'string') return undefined;
  switch (v.t) {
    case 'a': {
      const m = v.m;
      const ok =
        isObject(m) &&
        typeof m.topic === 'string' &&
        typeof m.payload === 'string' &&
        typeof m.receivedAtMs === 'number' &&
        (m.responseTopic === undefined || typeof m.responseTopic === 'string') &&
        (m.correlationData === undefined || typeof m.correlationData === 'string') &&
        (m.packet === undefined || typeof m.packet === 'string');
      return ok ? (v as Line) : undefined;
    }
    case 's':
    case 'p':
      return v as Line;
    case 'r':
      return isObject(v.r) && typeof v.r.id === 'string' && typeof v.r.ok === 'boolean' ? (v as Line) : undefined;
    default:
      return undefined;
  }
}

/**
 * A journal file's lines in order. Text after the last newline is a line a
 * crash cut short (dropped: `tornTail`), unless it happens to be whole; any
 * other unreadable line is `bad` (its 1-based number), a damaged file.
 */
export function parseJournal(text: string): { lines: Line[]; bad: number[]; tornTail: boolean } {
  const texts = text.split('\n');
  const tail = texts.pop() ?? '';
  const lines: Line[] = [];
  const bad: number[] = [];
  texts.forEach((t, i) => {
    if (!t) return;
    const l = parseLine(t);
    if (l) lines.push(l);
    else bad.push(i + 1);
  });
  const last = tail ? parseLine(tail) : undefined;
  if (last) lines.push(last);
  return { lines, bad, tornTail: tail !== '' && !last };
}

/** Each line as written: by hand, since the hot path writes four a command and results are JSON text already. */
export const line = {
  accepted: (k: string, m: JournaledMessage): string => `{"t":"a","k":${JSON.stringify(k)},"m":${JSON.stringify(m)}}`,
  started: (k: string): string => `{"t":"s","k":${JSON.stringify(k)}}`,
  /** `result`: the result's JSON; `confirmed`: the broker has it already (written by a rewrite). */
  result: (k: string, result: string, confirmed = false): string =>
    `{"t":"r","k":${JSON.stringify(k)},"r":${result}${confirmed ? ',"p":1' : ''}}`,
  delivered: (k: string): string => `{"t":"p","k":${JSON.stringify(k)}}`,
};
