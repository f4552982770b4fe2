/**
 * What the agent needs from MQTT, and nothing of MQTT.js: messages in,
 * publishes out. The dispatcher can be tested without a broker, and the
 * broker client can be swapped.
 */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  /** A QoS 1/2 redelivery of a message the broker is not sure we got. */
  readonly dup: boolean;
  /** QoS 1/2: the packet identifier, which a redelivery after a reconnect keeps (MQTT 3.1.1 §4.4, 5.0 §4.4). */
  readonly packetId?: number;
  readonly retain: boolean;
  /** MQTT 5 request/response. */
  readonly responseTopic?: string;
  readonly correlationData?: Buffer;
  /** MQTT 5 Message Expiry Interval as received (seconds left). */
  readonly messageExpiryS?: number;
  /** performance.now() at arrival. */
  readonly receivedAt: number;
}

export interface PublishOptions {
  readonly qos?: 0 | 1 | 2;
  readonly retain?: boolean;
  readonly correlationData?: Buffer;
}

export interface TransportHandlers {
  message(m: InboundMessage): void;
  /** Connected (again): subscribe, then announce. */
  connected(sessionPresent: boolean): void;
  disconnected(reason: string): void;
}

export interface Transport {
  readonly protocolVersion: 3 | 4 | 5;
  readonly connected: boolean;
  /** The broker in use (or being tried): scheme://host:port. */
  readonly server: string;
  start(handlers: TransportHandlers): void;
  /** Gives up the current connection (it cannot be used) and connects again, to the next server if there are several. */
  reconnect(reason: string): void;
  subscribe(topics: readonly string[], qos: 0 | 1 | 2): Promise<void>;
  /** Resolves when the broker has it (QoS 1/2) or it is written (QoS 0). Offline QoS>0 publishes wait for the reconnect. */
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  /** Disconnects cleanly (no LWT); waits at most `timeoutMs` for in-flight publishes. */
  stop(timeoutMs: number): Promise<void>;
}
