/**
 * The offline buffer's way back to the broker: what telemetry kept while the
 * link was down goes out when it is back, oldest first, in batches — the
 * dropped notice of each device that lost some, then the messages.
 *
 * A message leaves the buffer only once the broker has confirmed it. A
 * replay the link cuts short leaves its batch in the transport's outbox,
 * which sends it again first on the next connection; the next replay takes
 * nothing more until that batch is confirmed, so the buffer's last batch is
 * always exactly what is not known to be published, and a stop keeps it
 * (with a spill) or counts it as dropped and says so.
 */
import type { Logger } from 'pino';
import type { Transport } from '../transport/transport.js';
import { OfflineBuffer, type HeldMessage } from './offline-buffer.js';
import { SpillStore } from './offline-spill.js';
import { jsonWithBigInts as json } from './result.js';

export interface OfflineReplayOptions {
  readonly transport: Transport;
  readonly qos: 0 | 1 | 2;
  readonly log: Logger;
  readonly limits: {
    readonly maxMessages: number;
    readonly maxBytes: number;
    readonly spill: boolean;
    readonly spillMaxBytes: number;
  };
  /** Where the spill files go (node.stateDir). */
  readonly stateDir: string;
  /** A device's event topic: where its dropped notice goes. */
  readonly eventTopic: (device: string) => string;
}

/** Replayed messages per turn: the PUBACKs of one batch are awaited before the next (the broker paces the replay). */
const REPLAY_BATCH = 256;

export class OfflineReplay {
  readonly #o: OfflineReplayOptions;
  readonly #buffer: OfflineBuffer;
  /** Bumped by each replay, pause and stop: a replay interrupted by a disconnect stops. */
  #generation = 0;
  /** The replayed batch the broker has not yet confirmed all of (see above). */
  #unconfirmed: Promise<void> | undefined;
  /**
   * Events published live that the broker has not yet confirmed. A lost link leaves them in the
   * outbox, which sends them again after the reconnect; a stop while away ends the outbox, so the
   * stop keeps them as it keeps the buffer.
   */
  readonly #liveUnconfirmed = new Set<HeldMessage>();

  constructor(o: OfflineReplayOptions) {
    this.#o = o;
    const b = o.limits;
    this.#buffer = new OfflineBuffer(b, b.spill ? new SpillStore(o.stateDir, b.spillMaxBytes, o.log) : undefined);
  }

  /** A message seen while away. */
  keep(m: HeldMessage): void {
    this.#buffer.push(m);
  }

  /** An event published at once (connected, nothing left to replay); the stop keeps it until the broker has it. */
  publishLive(m: HeldMessage): void {
    const qos = this.#o.qos;
    if (qos > 0) this.#liveUnconfirmed.add(m);
    this.#o.transport.publish(m.topic, m.payload, { qos, retain: false }).then(
      () => this.#liveUnconfirmed.delete(m),
      (e: unknown) => {
        this.#liveUnconfirmed.delete(m);
        this.#o.log.debug({ topic: m.topic, err: (e as Error).message }, 'publish failed');
      },
    );
  }

  /** For node state. */
  status(): Record<string, unknown> {
    return this.#buffer.status();
  }

  /** The link is down: a replay running stops. */
  pause(): void {
    this.#generation++;
  }

  /** What was kept goes out; false when the link dropped again before the end (the rest waits for the next). */
  async replay(): Promise<boolean> {
    const generation = ++this.#generation;
    const t = this.#o.transport;
    const stale = (): boolean => generation !== this.#generation || !t.connected;
    for (;;) {
      if (stale()) return false;
      // Before each batch: what was lost before it, also while the replay runs (events keep coming).
      await this.#announceDropped();
      if (stale()) return false;
      if (this.#unconfirmed) {
        await this.#unconfirmed;
        continue;
      }
      const batch = this.#buffer.take(REPLAY_BATCH);
      if (!batch.length) return true;
      const confirmed = Promise.all(
        batch.map((m) =>
          t.publish(m.topic, m.payload, { qos: this.#o.qos, retain: false }).catch((e: unknown) => {
            // Refused for good (not a lost link: the outbox keeps those): counted, and said before the rest.
            this.#o.log.debug({ topic: m.topic, err: (e as Error).message }, 'replay publish failed');
            this.#buffer.lost(m);
          }),
        ),
      ).then(() => {
        if (this.#unconfirmed === confirmed) this.#unconfirmed = undefined;
        this.#buffer.published();
      });
      this.#unconfirmed = confirmed;
      await confirmed;
    }
  }

  /**
   * A stop while away or replaying: what is not known to be published survives to the next run when
   * there is a spill; what cannot be kept is counted as dropped and said, never silently gone.
   */
  stop(): void {
    // A replay still running must not take what is now written for the next run.
    this.#generation++;
    // Older than anything in the buffer: they were published before the link went.
    const older = [...this.#liveUnconfirmed].map((m) => ({
      ...m,
      payload: json({ ...(JSON.parse(m.payload) as object), replayed: true }),
    }));
    this.#liveUnconfirmed.clear();
    const lost = this.#buffer.persist(older);
    if (!lost.size) return;
    const count = [...lost.values()].reduce((sum, span) => sum + span.count, 0);
    this.#o.log.warn(
      { lost: Object.fromEntries([...lost].map(([d, span]) => [d, span.count])), spill: this.#buffer.status().spill },
      `offline buffer: stopped with ${count} messages not published and nowhere to keep them; they are dropped`,
    );
  }

  /** One `dropped` event per device that lost messages since the last call. */
  async #announceDropped(): Promise<void> {
    const dropped = this.#buffer.takeDropped();
    if (!dropped.size) return;
    this.#o.log.warn({ dropped: Object.fromEntries([...dropped].map(([d, s]) => [d, s.count])) }, 'offline buffer overflowed');
    const t = this.#o.transport;
    await Promise.all(
      [...dropped].map(([device, span]) =>
        t
          .publish(
            this.#o.eventTopic(device),
            json({ type: 'dropped', count: span.count, firstTs: span.firstTs, lastTs: span.lastTs, ts: span.firstTs, replayed: true }),
            { qos: this.#o.qos, retain: false },
          )
          .catch((e: unknown) => {
            this.#o.log.debug({ device, err: (e as Error).message }, 'dropped notice not published');
          }),
      ),
    );
  }
}
