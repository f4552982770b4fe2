/**
 * After a crash, what the journal says the previous process left undone
 * (journal.ts), handed to the dispatcher once, before any new message:
 * results the broker never confirmed are published again, commands a crash
 * caught running are answered as interrupted (never run twice), and commands
 * acknowledged but never started run now, in their order.
 */
import type { Logger } from 'pino';
import type { InboundMessage } from '../transport/transport.js';
import type { Dispatcher } from './dispatcher.js';
import type { JournaledMessage, Recovery } from './journal.js';

export function finishPreviousRun(r: Recovery, dispatcher: Dispatcher, log: Logger): void {
  // A consumer may see such a result twice; the id tells.
  for (const u of r.undelivered) dispatcher.redeliver(u.key, inbound(u.message), u.result, u.encoded);
  for (const i of r.interrupted) {
    log.warn(
      { topic: i.message.topic },
      'a command was running when the previous run died: answering it as interrupted, not running it again',
    );
    dispatcher.answerInterrupted(i.key, inbound(i.message), i.message.receivedAtMs);
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
