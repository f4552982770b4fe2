/**
 * A broker for suites that need *a* broker, not mosquitto in particular: a
 * real mosquitto where it is installed (always under CI), else aedes on a
 * loopback port of this process. aedes keeps sessions and retained messages
 * across its restart() as mosquitto does with `persistence: true`.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { freePort, haveMosquittoBroker, Mosquitto, type MosquittoOptions } from './mosquitto.js';
import { TestClient } from './mqtt-client.js';

export interface TestBroker {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** What an agent and clients must speak to it: aedes knows MQTT 3.1.1 only. */
  readonly protocolVersion: 4 | 5;
  /** A clean stop and start on the same port, keeping what the broker persists. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * aedes on a loopback port; restart() drops every connection and listens again, keeping its state.
 *
 * Publishes wait while a client connects. aedes restores a persistent session's subscriptions
 * before it sends the messages queued for it, and sends again, without DUP, any message routed
 * live in between (it is in the queue too, unacknowledged): a command would run twice. mosquitto
 * handles a CONNECT in one piece; holding publishes over the connect makes aedes do the same.
 */
export class AedesBroker implements TestBroker {
  readonly name = 'aedes';
  readonly protocolVersion = 4;
  readonly #sockets = new Set<net.Socket>();
  readonly #connecting = new Set<Client>();
  #held: Array<() => void> = [];
  #server: net.Server | undefined;
  readonly aedes: Aedes;

  private constructor(readonly port: number) {
    this.aedes = new Aedes({
      preConnect: (client, _packet, done) => {
        this.#connecting.add(client);
        done(null, true);
      },
      authorizePublish: (_client, _packet, done) => {
        if (this.#connecting.size === 0) done(null);
        else this.#held.push(() => done(null));
      },
    });
    this.aedes.on('clientReady', (client) => this.#connected(client));
    this.aedes.on('clientError', (client) => this.#connected(client));
    this.aedes.on('connectionError', (client) => this.#connected(client));
  }

  static async start(port?: number): Promise<AedesBroker> {
    const b = new AedesBroker(port ?? (await freePort()));
    await b.aedes.listen();
    await b.#listen();
    return b;
  }

  #connected(client: Client): void {
    if (!this.#connecting.delete(client) || this.#connecting.size > 0) return;
    for (const release of this.#held.splice(0)) release();
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async #listen(): Promise<void> {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        // A client whose connection went away in the middle of its CONNECT holds nothing up.
        for (const c of this.#connecting) if ((c.conn as unknown) === socket) this.#connected(c);
      });
      this.aedes.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  async #unlisten(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
    // Down means every session is parked: a client that reconnects meets none of its old connection.
    const clients = (this.aedes as unknown as { clients: Record<string, unknown> }).clients;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (Object.keys(clients).length > 0) return;
        this.aedes.off('clientDisconnect', check);
        resolve();
      };
      this.aedes.on('clientDisconnect', check);
      check();
    });
  }

  async restart(): Promise<void> {
    await this.#unlisten();
    await this.#listen();
  }

  /** Read from aedes's own store: a subscriber gets these after its SUBACK, with no sign of the last one. */
  async retained(filter: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    // aedes's types leave its persistence out; the store is aedes-persistence's.
    const store = (this.aedes as unknown as { persistence: { createRetainedStreamCombi(f: string[]): Readable } }).persistence;
    const stream = store.createRetainedStreamCombi([filter]);
    for await (const p of stream) {
      const packet = p as { topic: string; payload: Buffer };
      out.set(packet.topic, packet.payload.toString());
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.#unlisten();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}

/**
 * Every retained message under `filter` on `broker`, topic → payload. mosquitto queues a new
 * subscriber's retained messages as it subscribes, so a marker it publishes after the SUBACK
 * comes after all of them; aedes streams them after the SUBACK, so its store is read instead.
 */
export async function retainedMessages(broker: TestBroker, filter: string): Promise<Map<string, string>> {
  if (broker instanceof AedesBroker) return broker.retained(filter);
  const c = await TestClient.connect(broker.url);
  try {
    await c.subscribe([filter, 'dev2mqtt-test/marker']);
    await c.publish('dev2mqtt-test/marker', 'end');
    await c.next((m) => m.topic === 'dev2mqtt-test/marker', 20_000, 'the marker');
  } finally {
    await c.end();
  }
  return new Map(c.messages.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
}

/** mosquitto if it is here, else aedes: for suites about the agent, which any broker will do for. */
export async function startBroker(o: MosquittoOptions = {}): Promise<TestBroker> {
  if (haveMosquittoBroker()) return Mosquitto.start(o);
  return AedesBroker.start(o.port);
}
