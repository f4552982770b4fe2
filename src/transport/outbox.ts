/**
 * QoS 1 publishes kept until the broker has confirmed them, and sent again
 * all at once after a reconnect.
 *
 * MQTT.js would replay its own store instead, one message per PUBACK, and
 * hold every new publish until the replay is through (mqttjs/MQTT.js#1086).
 * With a few hundred results unconfirmed when the broker died and a round
 * trip slowed by load, the agent was connected but said nothing for minutes,
 * and what it published meanwhile piled up for the next replay. So the
 * transport reconnects with an empty MQTT.js store and the outbox sends its
 * unconfirmed publishes in order, pipelined. They go out with new packet ids:
 * the broker keeps no state for a QoS 1 publish it did not acknowledge, so
 * the one difference is that a copy it did take arrives twice (QoS 1 is at
 * least once). QoS 2 keeps MQTT.js's replay: there the packet id is what
 * makes it exactly once.
 *
 * Nothing is handed to MQTT.js between a lost connection and the next
 * `connect` event: MQTT.js would store it in its own offline queue and send
 * it from there right after the CONNACK, ahead of older publishes still
 * waiting here, so results made during an outage would arrive out of order.
 * Held here, everything goes out in the order it was published, once.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';

interface Entry {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly options: IClientPublishOptions;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  /** The attempt whose answer counts: an attempt MQTT.js forgot at a reconnect never answers. */
  attempt: number;
  inFlight: boolean;
}

export class Outbox {
  readonly #entries = new Set<Entry>();
  #stopping = false;
  /** Between a `connect` event and the next close: publishes go to MQTT.js at once. */
  #online = false;

  constructor(private readonly client: () => MqttClient | undefined) {}

  /** Publishes not yet confirmed by the broker. */
  get size(): number {
    return this.#entries.size;
  }

  publish(topic: string, payload: string | Buffer, options: IClientPublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry: Entry = { topic, payload, options, resolve, reject, attempt: 0, inFlight: false };
      this.#entries.add(entry);
      if (this.#online) this.#send(entry);
    });
  }

  /** The connection is gone: what is published from now on waits for resend(). */
  offline(): void {
    this.#online = false;
  }

  /** Before a reconnect with an empty MQTT.js store: the attempts it held will never be answered. */
  forgetAttempts(): void {
    for (const e of this.#entries) {
      e.attempt++;
      e.inFlight = false;
    }
  }

  /** After a connect: every unconfirmed publish that is not on its way goes out (again), in order. */
  resend(): void {
    this.#online = true;
    for (const e of this.#entries) if (!e.inFlight) this.#send(e);
  }

  /**
   * Nothing is sent again. What the broker confirms during the stop's flush still settles; what it
   * never confirms stays unsettled, as MQTT.js leaves it: the journal has it for the next start.
   */
  stop(): void {
    this.#stopping = true;
  }

  #send(e: Entry): void {
    const client = this.client();
    if (!client || this.#stopping) return;
    const attempt = ++e.attempt;
    e.inFlight = true;
    client.publish(e.topic, e.payload, e.options, (err) => {
      if (attempt !== e.attempt || !this.#entries.has(e)) return;
      e.inFlight = false;
      if (!err) {
        this.#entries.delete(e);
        e.resolve();
        return;
      }
      // The connection went before the broker confirmed it (or before it left): it goes out
      // again on this connection if there is one, else on the next. Any other error is final.
      if (err.message === 'Connection closed') {
        if (this.#online && client.connected && !this.#stopping) this.#send(e);
        return;
      }
      this.#entries.delete(e);
      e.reject(err);
    });
  }
}
