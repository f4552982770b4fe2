/**
 * The MQTT.js side: MQTT 5 (or 3.1.1), a stable client id with a persistent
 * session, LWT `offline`, TLS/mTLS, TCP_NODELAY on our socket (a QoS 1 round
 * trip is ~40 ms with Nagle + delayed ACK, ~0.2 ms without), and reconnects
 * with exponential backoff and random jitter so a fleet does not stampede a
 * restarted broker.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { MqttClient, Store, type IClientOptions, type IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import { Outbox } from './outbox.js';
import type { InboundMessage, PublishOptions, Transport, TransportHandlers } from './transport.js';

export interface MqttSettings {
  readonly url: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly rejectUnauthorized: boolean;
  readonly protocolVersion: 3 | 4 | 5;
  readonly keepaliveS: number;
  readonly sessionExpiryS: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly connectTimeoutMs: number;
  readonly will: { readonly topic: string; readonly payload: string };
}

interface Endpoint {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

export function parseBrokerUrl(url: string): Endpoint {
  const u = new URL(url);
  const secure = ['mqtts:', 'ssl:', 'tls:'].includes(u.protocol);
  if (!secure && !['mqtt:', 'tcp:'].includes(u.protocol)) throw new Error(`unsupported broker URL scheme ${u.protocol}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { secure, host, port: u.port ? Number(u.port) : secure ? 8883 : 1883 };
}

/** Explains the TLS failures people actually hit, in words that point at the config key. */
export function describeConnectError(e: Error & { code?: string | number }): string {
  const code = String(e.code ?? '');
  if (
    [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_UNTRUSTED',
    ].includes(code)
  ) {
    return `TLS: the broker's certificate is not signed by a trusted CA (${code}); set mqtt.ca to the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the broker's certificate does not name this host (${e.message})`;
  if (code === 'CERT_HAS_EXPIRED') return 'TLS: the broker certificate has expired';
  // TLS 1.3 says "certificate required"; TLS 1.2 brokers just fail the handshake when we sent none.
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
    return `TLS: the broker requires a client certificate (${code}); set mqtt.cert and mqtt.key`;
  }
  if (
    [
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
      'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
      'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
    ].includes(code)
  ) {
    return `TLS: the broker refused our client certificate (${code}): is mqtt.cert signed by a CA the broker trusts?`;
  }
  if (code === 'ECONNREFUSED') return `connection refused (${e.message}): is the broker running?`;
  // CONNACK 1 (3.1.1) / 132 (MQTT 5): aedes and nats-server's MQTT listener speak 3.1.1 only.
  if (code === '1' || code === '132')
    return `the broker does not speak this MQTT version (${e.message}): set mqtt.protocolVersion to 4 for an MQTT 3.1.1 broker`;
  // CONNACK refusals: 4/5 in MQTT 3.1.1, 134/135 in MQTT 5. Never echo what we sent.
  if (['4', '5', '134', '135'].includes(code))
    return `the broker refused the login (${e.message}): check mqtt.username and mqtt.passwordFile`;
  return e.message;
}

/**
 * Holds the socket's writes from the moment a read arrives until the turn of
 * the event loop that handles it is over: the results of a burst of commands
 * leave in one write(2) instead of one each. A lone command's result waits
 * only for the end of its own turn.
 */
function coalesceWrites(socket: net.Socket): net.Socket {
  let corked = false;
  const release = (): void => {
    corked = false;
    socket.uncork();
  };
  // Added before MQTT.js pipes the socket, in the same synchronous setup: no read can come between.
  socket.on('data', () => {
    if (corked) return;
    corked = true;
    socket.cork();
    setImmediate(release);
  });
  return socket;
}

export class MqttTransport implements Transport {
  readonly protocolVersion: 3 | 4 | 5;
  #client: MqttClient | undefined;
  #stopping = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lastError = '';
  /** Connected since the last close: a close then is an outage, not a failed attempt. */
  #up = false;
  readonly #outbox = new Outbox(() => this.#client);
  /** QoS 2 publishes not yet complete: while there are any, MQTT.js keeps its store over a reconnect. */
  #qos2InFlight = 0;

  constructor(
    private readonly s: MqttSettings,
    private readonly log: Logger,
  ) {
    this.protocolVersion = s.protocolVersion;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  start(h: TransportHandlers): void {
    const ep = parseBrokerUrl(this.s.url);
    const tlsFiles = ep.secure
      ? {
          ...(this.s.ca ? { ca: readFileSync(this.s.ca) } : {}),
          ...(this.s.cert ? { cert: readFileSync(this.s.cert) } : {}),
          ...(this.s.key ? { key: readFileSync(this.s.key) } : {}),
        }
      : {};
    const streamBuilder = (): net.Socket => {
      if (!ep.secure) return coalesceWrites(net.createConnection({ host: ep.host, port: ep.port, noDelay: true }));
      const socket = tls.connect({
        host: ep.host,
        port: ep.port,
        ...tlsFiles,
        rejectUnauthorized: this.s.rejectUnauthorized,
        ...(net.isIP(ep.host) ? {} : { servername: ep.host }),
      });
      socket.setNoDelay(true);
      return coalesceWrites(socket);
    };
    const v5 = this.s.protocolVersion === 5;
    const options: IClientOptions = {
      clientId: this.s.clientId,
      protocolVersion: this.s.protocolVersion,
      protocolId: this.s.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      clean: false,
      keepalive: this.s.keepaliveS,
      connectTimeout: this.s.connectTimeoutMs,
      // We schedule reconnects ourselves (backoff + jitter) and resubscribe on every connect.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      // MQTT.js traces every packet through `debug`; even switched off that costs on a busy agent.
      log: () => undefined,
      ...(this.s.username ? { username: this.s.username } : {}),
      ...(this.s.password ? { password: this.s.password } : {}),
      will: { topic: this.s.will.topic, payload: Buffer.from(this.s.will.payload), qos: 1, retain: true },
      ...(v5 ? { properties: { sessionExpiryInterval: this.s.sessionExpiryS } } : {}),
    };
    const client = new MqttClient(streamBuilder, options);
    this.#client = client;
    // MQTT.js sends the PUBACK as soon as our (synchronous) message handler returns, before
    // the command's promise chain has run; deferring it one turn lets a quick command's result
    // leave first. The command is in the journal by then (its flush was queued before this one),
    // so the ack stays safe. The PUBACKs of one turn leave in one write.
    const acks: Array<Parameters<MqttClient['handleMessage']>[1]> = [];
    const sendAcks = (): void => {
      const stream = client.stream as net.Socket;
      stream.cork();
      for (const done of acks.splice(0)) done();
      stream.uncork();
    };
    client.handleMessage = (_packet, done) => {
      if (acks.push(done) === 1) setImmediate(sendAcks);
    };

    client.on('connect', (connack) => {
      this.#up = true;
      this.#attempt = 0;
      this.#lastError = '';
      this.log.info({ broker: this.s.url, sessionPresent: connack.sessionPresent }, 'connected to broker');
      this.#outbox.resend();
      h.connected(connack.sessionPresent);
    });
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
      const props = packet.properties;
      const msg: InboundMessage = {
        topic,
        payload,
        qos: packet.qos,
        dup: packet.dup,
        retain: packet.retain,
        receivedAt: performance.now(),
        ...(props?.responseTopic ? { responseTopic: props.responseTopic } : {}),
        ...(props?.correlationData ? { correlationData: props.correlationData } : {}),
        ...(props?.messageExpiryInterval !== undefined ? { messageExpiryS: props.messageExpiryInterval } : {}),
      };
      h.message(msg);
    });
    client.on('error', (e: Error & { code?: string | number }) => {
      const text = describeConnectError(e);
      // One line per distinct failure: a broker down for an hour must not flood the log.
      if (text !== this.#lastError) this.log.error({ broker: this.s.url }, text);
      this.#lastError = text;
    });
    client.on('close', () => {
      if (this.#stopping) return;
      // Once per outage: a failed attempt every second for an hour must not be 3,600 warnings
      // (a new kind of failure still gets its own error line, above).
      if (this.#up) h.disconnected(this.#lastError || 'connection closed');
      this.#up = false;
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer) return;
    const delay = backoffDelayMs(this.s.reconnectMinMs, this.s.reconnectMaxMs, this.#attempt++);
    this.log.debug({ delayMs: Math.round(delay), attempt: this.#attempt }, 'reconnecting');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      const client = this.#client;
      if (this.#stopping || !client) return;
      // Unconfirmed QoS 1 publishes are the outbox's to send again (see outbox.ts); MQTT.js starts
      // with an empty outgoing store unless a QoS 2 exchange needs its packet ids. The incoming
      // store always stays: it is what keeps a QoS 2 command from running twice.
      if (this.#qos2InFlight > 0) {
        client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
      } else {
        this.#outbox.forgetAttempts();
        client.reconnect({ incomingStore: client.incomingStore, outgoingStore: new Store() });
      }
    }, delay);
  }

  subscribe(topics: readonly string[], qos: 0 | 1 | 2): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error('not started'));
    return new Promise((resolve, reject) => {
      client.subscribe(topics as string[], { qos }, (err, granted) => {
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos === 128 || (g.qos as number) > 2);
        if (refused.length) return reject(new Error(`broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      });
    });
  }

  publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error('not started'));
    const properties = opts.correlationData && this.protocolVersion === 5 ? { properties: { correlationData: opts.correlationData } } : {};
    const qos = opts.qos ?? 0;
    if (qos === 1) return this.#outbox.publish(topic, payload, { qos, retain: opts.retain ?? false, ...properties });
    const sent = new Promise<void>((resolve, reject) => {
      const attempt = (): void => {
        client.publish(topic, payload, { qos, retain: opts.retain ?? false, ...properties }, (err) => {
          if (!err) return resolve();
          // QoS 2: after a reconnect MQTT.js first resends its stored messages and holds new publishes
          // meanwhile; if that connection drops too, it fails the held ones with 'Connection closed'.
          // They were never sent (and are not in its store): send them once connected again, or a
          // result would be lost to a broker that restarts twice in a row.
          if (qos > 0 && !this.#stopping && err.message === 'Connection closed') {
            client.once('connect', attempt);
            return;
          }
          reject(err);
        });
      };
      attempt();
    });
    if (qos === 2) {
      this.#qos2InFlight++;
      const settled = (): void => void this.#qos2InFlight--;
      sent.then(settled, settled);
    }
    return sent;
  }

  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    this.#outbox.stop();
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    if (!client) return;
    await Promise.race([
      new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs)),
    ]);
    client.end(true);
  }
}
