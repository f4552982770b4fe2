/**
 * A TCP proxy between an MQTT client and its broker that can swallow the
 * client's PUBACKs. With it a test makes the situation a crash makes by
 * chance: the client has a message and has acknowledged it, but the broker
 * never heard, so after a broker restart it redelivers the message with DUP.
 *
 * It can also swallow the broker's PUBACKs (a clustered broker that stopped
 * storing messages keeps the connection and acknowledges nothing), and cut
 * the link altogether (an LTE uplink gone: the broker itself stays up for
 * everyone else).
 */
import net from 'node:net';

/** MQTT control packet types. */
const PUBACK = 4;
const SUBACK = 9;

export class MqttProxy {
  /** While true, PUBACKs from clients are dropped instead of forwarded. */
  dropPubacks = false;
  dropped = 0;
  /** While true, PUBACKs from the broker are dropped instead of forwarded. */
  dropBrokerPubacks = false;
  brokerPubacksDropped = 0;
  /** While true, every SUBACK says 0x80 (failure): an MQTT 3.1.1 broker refusing each subscription. */
  refuseSubscriptions = false;
  /** Accepted connections so far. */
  connections = 0;
  #down = false;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(readonly upstreamPort: number) {
    this.#server = net.createServer((client) => this.#accept(client));
  }

  static async start(upstreamPort: number): Promise<MqttProxy> {
    const p = new MqttProxy(upstreamPort);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The link goes down: every connection is dropped and new ones are refused until restore(). */
  cut(): void {
    this.#down = true;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#down = false;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    if (this.#down) {
      client.destroy();
      return;
    }
    this.connections++;
    client.setNoDelay(true);
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    upstream.setNoDelay(true);
    this.#sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.on(
      'data',
      forwardPackets(
        client,
        (type) => {
          if (type !== PUBACK || !this.dropBrokerPubacks) return false;
          this.brokerPubacksDropped++;
          return true;
        },
        (type, packet) => (type === SUBACK && this.refuseSubscriptions ? refused(packet) : packet),
      ),
    );
    client.on(
      'data',
      forwardPackets(upstream, (type) => {
        if (type !== PUBACK || !this.dropPubacks) return false;
        this.dropped++;
        return true;
      }),
    );
  }
}

/** A data handler that writes whole packets to `to`, except those `drop(type)` says to swallow. */
function forwardPackets(
  to: net.Socket,
  drop: (type: number) => boolean,
  rewrite?: (type: number, packet: Buffer) => Buffer,
): (d: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (d) => {
    pending = Buffer.concat([pending, d]);
    for (;;) {
      const packet = nextPacket(pending);
      if (!packet) break;
      pending = pending.subarray(packet.length);
      const type = (packet[0] ?? 0) >> 4;
      if (drop(type)) continue;
      to.write(rewrite ? rewrite(type, packet) : packet);
    }
  };
}

/** A 3.1.1 SUBACK with every return code 0x80; the fixed header is 2 bytes for any SUBACK this small. */
function refused(packet: Buffer): Buffer {
  const out = Buffer.from(packet);
  out.fill(0x80, 4);
  return out;
}

/** The first whole packet in `buf` (fixed header + remaining length), or undefined if it is not all there yet. */
function nextPacket(buf: Buffer): Buffer | undefined {
  let length = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    const b = buf[i];
    if (b === undefined) return undefined;
    length += (b & 0x7f) * multiplier;
    multiplier *= 128;
    if ((b & 0x80) === 0) {
      const total = 1 + i + length;
      return buf.length >= total ? buf.subarray(0, total) : undefined;
    }
  }
  throw new Error('malformed MQTT remaining length');
}
