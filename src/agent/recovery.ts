/**
 * After a crash, what the journal says the previous process left undone
 * (journal.ts), handed to the dispatcher once, before any new message:
 * results the broker never confirmed are published again, commands a crash
 * caught running (or that the journal cannot vouch for, after a storage
 * fault) are answered instead of run (never twice), and commands
 * acknowledged but never started run now, in their order.
 */
import type { Logger } from 'pino';
import type { InboundMessage } from '../transport/transport.js';
import type { Dispatcher } from './dispatcher.js';
import type { JournaledMessage } from './journal-format.js';
import type { CommandResult } from './result.js';

/**
 * Why a recovered command is answered instead of run: `crash`, it was running
 * when the previous run died; `stale`, the previous run could not keep its
 * journal up to date (a storage fault), so it may have run since; `unrecordable`,
 * this run cannot write its journal, so a run could not be recorded and every
 * later start would run it again; `late`, the previous run left it unstarted in
 * a journal this run could read only later (journal-unreadable.ts), and running
 * it that late could surprise whoever sent it.
 */
export type InterruptedWhy = 'crash' | 'stale' | 'unrecordable' | 'late';

/**
 * Lines that could not be read, anywhere but a torn last line, or the whole file (`unreadable`: the
 * errno read(2) answered, on a damaged medium): the file was moved aside (`to`), or could not be (`error`).
 */
export interface CorruptJournal {
  readonly file: string;
  readonly lines: readonly number[];
  readonly unreadable?: string;
  readonly to?: string;
  readonly error?: string;
}

/** What a restart has to finish, in arrival order. */
export interface Recovery {
  /** Accepted, never started: run them. */
  readonly pending: ReadonlyArray<{ key: string; message: JournaledMessage }>;
  /** Not to be run (again): answer them. */
  readonly interrupted: ReadonlyArray<{ key: string; message: JournaledMessage; why: InterruptedWhy }>;
  /** Finished, but the broker never confirmed the result: publish it again. */
  readonly undelivered: ReadonlyArray<{ key: string; message: JournaledMessage; result: CommandResult; encoded: string }>;
  /** Journal files that were damaged (a live one and a stale one may both be). */
  readonly corrupt?: readonly CorruptJournal[];
  /** The last line was cut short (the previous run died mid-write): dropped, as expected after a crash. */
  readonly tornTail: boolean;
}

/** The `canceled` result's message, and the log line, for each reason a command is answered instead of run. */
const WHY: Record<InterruptedWhy, { result: string; log: string }> = {
  crash: {
    result: 'the agent stopped (crash or kill) while this command ran; it was not run again, since it may have taken effect',
    log: 'a command was running when the previous run died: answering it as interrupted, not running it again',
  },
  stale: {
    result:
      'not run: the previous run could not write its command journal (a storage fault), so it may have run this command since; ' +
      'it is not run again, since it may have taken effect',
    log: 'a command the previous run accepted while its journal could not be written: answering it, not running it (it may have run)',
  },
  unrecordable: {
    result:
      'not run: the command journal cannot be written now (see the node state journalReason), so running it could not be ' +
      'recorded and every later start would run it again',
    log: 'a command left unstarted by the previous run: not running it, as the journal cannot record that it ran',
  },
  late: {
    result:
      'not run: the previous run left this command unstarted in a command journal that could not be read when the agent ' +
      'started (see the log); it was found only once that could be read, and is not run this late',
    log: 'a command the previous run left unstarted, found once its journal could be read: answering it, not running it this late',
  },
};

/** What start-up found wrong with the journal file, said once. */
export function reportRecovery(r: Recovery, log: Logger): void {
  if (r.tornTail) log.info('the command journal ended in a line cut short (the previous run died mid-write): dropped that line');
  for (const c of r.corrupt ?? []) reportCorrupt(c, log);
}

function reportCorrupt(c: CorruptJournal, log: Logger): void {
  const where = c.to ? `moved aside as ${c.to}` : `could not be moved aside (${c.error ?? 'unknown error'})`;
  if (c.unreadable) {
    log.warn(
      { journal: c.file, ...(c.to ? { movedTo: c.to } : {}) },
      `the command journal could not be read (${c.unreadable}): ${where}; ` +
        (c.to
          ? 'started with a fresh journal; what it held (commands to finish, results for redeliveries) is lost'
          : 'the journal is kept in memory only until its directory can be written'),
    );
    return;
  }
  log.warn(
    { journal: c.file, lines: c.lines.slice(0, 20), unreadable: c.lines.length, ...(c.to ? { movedTo: c.to } : {}) },
    `the command journal had ${c.lines.length} unreadable line(s), not only a torn last one: ${where}; the readable lines were used`,
  );
}

export function finishPreviousRun(r: Recovery, dispatcher: Dispatcher, log: Logger): void {
  // A consumer may see such a result twice; the id tells.
  for (const u of r.undelivered) dispatcher.redeliver(u.key, inbound(u.message), u.result, u.encoded);
  for (const i of r.interrupted) {
    log.warn({ topic: i.message.topic }, WHY[i.why].log);
    dispatcher.answerInterrupted(i.key, inbound(i.message), i.message.receivedAtMs, WHY[i.why].result);
  }
  for (const p of r.pending) {
    log.info({ topic: p.message.topic }, 'running a command left unstarted by the previous run');
    dispatcher.handle(inbound(p.message), p.key);
  }
}

/** A journaled command as the dispatcher takes messages. */
function inbound(m: JournaledMessage): InboundMessage {
  return {
    topic: m.topic,
    payload: Buffer.from(m.payload, 'base64'),
    qos: 1,
    dup: false,
    retain: false,
    receivedAt: performance.now(),
    ...(m.responseTopic ? { responseTopic: m.responseTopic } : {}),
    ...(m.correlationData ? { correlationData: Buffer.from(m.correlationData, 'base64') } : {}),
  };
}
