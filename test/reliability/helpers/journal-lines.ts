/** Journal lines as a previous run of the agent leaves them, for a probe device's `count` command (test-kinds.ts). */
import { userKey } from '../../../src/agent/journal.js';

export const TOPIC = 'dev2mqtt/t1/p1/cmd/count';
export const key = (id: string): string => userKey(TOPIC, id);
export const message = (id: string) => ({
  topic: TOPIC,
  payload: Buffer.from(JSON.stringify({ id })).toString('base64'),
  receivedAtMs: Date.now(),
});
export const result = (id: string, count: number) => ({
  id,
  node: 't1',
  device: 'p1',
  command: 'count',
  ok: true,
  result: { count },
  ms: 1,
});
export const line = (o: unknown): string => `${JSON.stringify(o)}\n`;

/** A QoS 1 redelivery of the command with this id, as the dispatcher takes it. */
export const dup = (id: string) => ({
  topic: TOPIC,
  payload: Buffer.from(JSON.stringify({ id })),
  qos: 1 as const,
  dup: true,
  retain: false,
  receivedAt: performance.now(),
});
