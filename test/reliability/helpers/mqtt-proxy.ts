/**
 * A TCP proxy between an MQTT client and its broker that can swallow the
 * client's PUBACKs. With it a test makes the situation a crash makes by
 * chance: the client has a message and has acknowledged it, but the broker
 * never heard, so after a broker restart it redelivers the message with DUP.
 */
import net from 'node:net';

/** MQTT control packet type 4: PUBACK. */
const PUBACK = 4;

export class MqttProxy {
  /** While true, PUBACKs from clients are dropped instead of forwarded. */
  dropPubacks = false;
  dropped = 0;
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

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
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
    upstream.on('data', (d: Buffer) => client.write(d));
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (;;) {
        const packet = nextPacket(pending);
        if (!packet) break;
        pending = pending.subarray(packet.length);
        if (this.dropPubacks && (packet[0] ?? 0) >> 4 === PUBACK) {
          this.dropped++;
          continue;
        }
        upstream.write(packet);
      }
    });
  }
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
