/**
 * The MQTT.js side: MQTT 5 (or 3.1.1), a stable client id with a persistent
 * session, LWT `offline`, TLS/mTLS, TCP_NODELAY on our socket (a QoS 1 round
 * trip is ~40 ms with Nagle + delayed ACK, ~0.2 ms without), and reconnects
 * with exponential backoff and random jitter so a fleet does not stampede a
 * restarted broker — each to the next of `servers` (a cluster's nodes), so
 * the persistent session and the commands queued in it follow the agent to
 * a surviving node.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { MqttClient, Store, type IClientOptions, type IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs } from '../backoff.js';
import { AckWatchdog } from './ack-watchdog.js';
import { describeConnectError } from './connect-errors.js';
import { Outbox } from './outbox.js';
import { ServerList } from './servers.js';
import type { InboundMessage, PublishOptions, Transport, TransportHandlers } from './transport.js';

export interface MqttSettings {
  /** One URL, or a cluster's nodes: the first tried is random unless `firstServer` says which. */
  readonly servers: readonly string[];
  readonly firstServer?: number;
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
  /** See AckWatchdog; 0: never. */
  readonly ackTimeoutMs: number;
  readonly will: { readonly topic: string; readonly payload: string };
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
  /**
   * Connections in a row dropped as useless (subscriptions refused, nothing acknowledged): each
   * counts as a failed attempt, so a broker that always refuses (an ACL denying one of our topics)
   * is retried with the backoff growing to its cap, not in a loop at the first step.
   */
  #useless = 0;
  /** The last reason a connection was dropped for: said once as a warning, not once a connection. */
  #lastDrop = '';
  readonly #servers: ServerList;
  readonly #watchdog: AckWatchdog;
  readonly #outbox = new Outbox(() => this.#client);
  /** QoS 2 publishes not yet complete: while there are any, MQTT.js keeps its store over a reconnect. */
  #qos2InFlight = 0;

  constructor(
    private readonly s: MqttSettings,
    private readonly log: Logger,
  ) {
    this.protocolVersion = s.protocolVersion;
    this.#servers = new ServerList(s.servers, s.firstServer);
    this.#watchdog = new AckWatchdog(s.ackTimeoutMs, (waitedMs) =>
      this.reconnect(`the broker acknowledged nothing for ${Math.round(waitedMs / 1000)} s`),
    );
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  get server(): string {
    return this.#servers.current.label;
  }

  start(h: TransportHandlers): void {
    const tlsFiles = this.#servers.anySecure
      ? {
          ...(this.s.ca ? { ca: readFileSync(this.s.ca) } : {}),
          ...(this.s.cert ? { cert: readFileSync(this.s.cert) } : {}),
          ...(this.s.key ? { key: readFileSync(this.s.key) } : {}),
        }
      : {};
    const streamBuilder = (): net.Socket => {
      const ep = this.#servers.current;
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

    // MQTT.js says `connect` only once it has replayed the QoS 2 exchanges open at a drop: a broker that
    // never completes them would hold us there, so the watchdog starts at the CONNACK itself.
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'connack') this.#watchdog.connected();
    });
    client.on('connect', (connack) => {
      this.#up = true;
      this.#attempt = this.#useless;
      this.#lastError = '';
      this.#watchdog.connected();
      this.log.info({ broker: this.server, sessionPresent: connack.sessionPresent }, 'connected to broker');
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
        ...(packet.qos > 0 && packet.messageId !== undefined ? { packetId: packet.messageId } : {}),
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
      if (text !== this.#lastError) this.log.error({ broker: this.server }, text);
      this.#lastError = text;
    });
    client.on('close', () => {
      this.#outbox.offline();
      this.#watchdog.disconnected();
      if (this.#stopping) return;
      // Once per outage: a failed attempt every second for an hour must not be 3,600 warnings
      // (a new kind of failure still gets its own error line, above).
      if (this.#up) h.disconnected(this.#lastError || 'connection closed');
      this.#up = false;
      this.#servers.advance();
      this.#scheduleReconnect();
    });
  }

  /** Drops the connection (it is not usable: subscriptions refused, acknowledgements stopped); the next server is tried. */
  reconnect(reason: string): void {
    const stream = this.#client?.stream;
    if (this.#stopping || !stream) return;
    this.#useless++;
    if (reason !== this.#lastDrop) this.log.warn({ broker: this.server, reason }, 'dropping the broker connection');
    else this.log.debug({ broker: this.server, reason, times: this.#useless }, 'dropping the broker connection');
    this.#lastDrop = reason;
    this.#lastError = reason;
    stream.destroy();
  }

  #scheduleReconnect(): void {
    if (this.#stopping || this.#reconnectTimer) return;
    const delay = backoffDelayMs(this.s.reconnectMinMs, this.s.reconnectMaxMs, this.#attempt++);
    this.log.debug({ delayMs: Math.round(delay), attempt: this.#attempt, broker: this.server }, 'reconnecting');
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
    this.#watchdog.sent();
    return new Promise((resolve, reject) => {
      client.subscribe(topics as string[], { qos }, (err, granted) => {
        this.#watchdog.acked();
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos === 128 || (g.qos as number) > 2);
        if (refused.length) return reject(new Error(`broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`));
        // This connection works: the next outage starts its backoff from the first step.
        this.#useless = 0;
        this.#lastDrop = '';
        resolve();
      });
    });
  }

  publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error('not started'));
    const properties = opts.correlationData && this.protocolVersion === 5 ? { properties: { correlationData: opts.correlationData } } : {};
    const qos = opts.qos ?? 0;
    if (qos > 0) this.#watchdog.sent();
    if (qos === 1) {
      // The outbox settles it once the broker confirmed it (on this connection or a later one).
      const confirmed = this.#outbox.publish(topic, payload, { qos, retain: opts.retain ?? false, ...properties });
      const settled = (): void => this.#watchdog.acked();
      confirmed.then(settled, settled);
      return confirmed;
    }
    const sent = new Promise<void>((resolve, reject) => {
      const attempt = (): void => {
        client.publish(topic, payload, { qos, retain: opts.retain ?? false, ...properties }, (err) => {
          if (qos > 0 && !(err?.message === 'Connection closed' && !this.#stopping)) this.#watchdog.acked();
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
    // Connected, but MQTT.js is still replaying its store (a QoS 2 exchange was open at the drop), so the
    // outbox holds what came since, `offline` included: hand it over now, to go out behind the replay and
    // before the DISCONNECT, which would otherwise keep the broker from publishing the will too.
    if (this.#client?.connected) this.#outbox.resend();
    this.#outbox.stop();
    clearTimeout(this.#reconnectTimer);
    this.#watchdog.disconnected();
    const client = this.#client;
    if (!client) return;
    // No broker to flush to (away, or still connecting): waiting would only spend the agent's stop budget.
    // What waits is not lost: results are in the journal, events in the offline buffer (telemetry.stop).
    if (!client.connected) {
      client.end(true);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let onClose = (): void => undefined;
    await Promise.race([
      new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      // The link lost in the middle of the flush: nothing more can be acknowledged.
      new Promise<void>((resolve) => client.once('close', (onClose = resolve))),
    ]);
    clearTimeout(timer);
    client.removeListener('close', onClose);
    // Not end(true): once end(false) has begun, MQTT.js ignores it, and a flush the broker never acknowledged
    // would leave the socket (with its keepalive) up after the stop, and the process with it.
    client.stream.destroy();
  }
}
