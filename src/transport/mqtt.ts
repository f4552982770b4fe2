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
import { MqttClient, type IClientOptions, type IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
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
  if (['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED'].includes(code)) {
    return `TLS: the broker's certificate is not signed by a trusted CA (${code}); set mqtt.ca to the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the broker's certificate does not name this host (${e.message})`;
  if (code === 'CERT_HAS_EXPIRED') return 'TLS: the broker certificate has expired';
  if (code === 'ECONNREFUSED') return `connection refused (${e.message}): is the broker running?`;
  return e.message;
}

export class MqttTransport implements Transport {
  readonly protocolVersion: 3 | 4 | 5;
  #client: MqttClient | undefined;
  #stopping = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lastError = '';

  constructor(private readonly s: MqttSettings, private readonly log: Logger) {
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
      if (!ep.secure) return net.createConnection({ host: ep.host, port: ep.port, noDelay: true });
      const socket = tls.connect({
        host: ep.host, port: ep.port, ...tlsFiles, rejectUnauthorized: this.s.rejectUnauthorized,
        ...(net.isIP(ep.host) ? {} : { servername: ep.host }),
      });
      socket.setNoDelay(true);
      return socket;
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
    const client = new MqttClient(streamBuilder as unknown as ConstructorParameters<typeof MqttClient>[0], options);
    this.#client = client;
    // MQTT.js sends the PUBACK as soon as our (synchronous) message handler returns, before
    // the command's promise chain has run; deferring it one turn lets a quick command's result
    // leave first. The command is already in the journal, so the ack stays safe.
    client.handleMessage = (_packet, done) => void setImmediate(done);

    client.on('connect', (connack) => {
      this.#attempt = 0;
      this.#lastError = '';
      this.log.info({ broker: this.s.url, sessionPresent: connack.sessionPresent }, 'connected to broker');
      h.connected(connack.sessionPresent);
    });
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
      const props = packet.properties;
      const msg: InboundMessage = {
        topic, payload, qos: packet.qos, dup: packet.dup, retain: packet.retain, receivedAt: performance.now(),
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
      h.disconnected(this.#lastError || 'connection closed');
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer) return;
    const cap = Math.min(this.s.reconnectMaxMs, this.s.reconnectMinMs * 2 ** this.#attempt++);
    // "Equal jitter": never hammer at once, never wait longer than the cap.
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.log.debug({ delayMs: Math.round(delay), attempt: this.#attempt }, 'reconnecting');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#stopping) this.#client?.reconnect();
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
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false, ...properties }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
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
