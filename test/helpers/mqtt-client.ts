/** A test-side MQTT.js client that records messages and waits for them. */
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import { deadline } from './deadline.js';

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
  readonly packet: IPublishPacket;
}

export class TestClient {
  readonly messages: Received[] = [];
  #waiters: Array<{ match: (m: Received) => boolean; resolve: (m: Received) => void }> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain, packet };
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  /**
   * Listens before the CONNECT goes out: a persistent session's queued messages can come in the
   * same read as the CONNACK, and MQTT.js emits (and acknowledges) them before `connectAsync`
   * resolves, so a listener added after it would lose them for good.
   */
  static connect(url: string, opts: IClientOptions = {}): Promise<TestClient> {
    const client = mqtt.connect(url, { reconnectPeriod: 200, connectTimeout: deadline(5000), ...opts });
    const tc = new TestClient(client);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        client.off('connect', done);
        client.off('error', failed);
        resolve(tc);
      };
      const failed = (e: Error): void => {
        client.off('connect', done);
        client.end();
        reject(e);
      };
      client.once('connect', done);
      client.once('error', failed);
    });
  }

  async subscribe(topic: string | string[], qos: 0 | 1 = 1): Promise<void> {
    await this.client.subscribeAsync(topic, { qos });
  }

  async publish(topic: string, payload: string | Buffer, opts: mqtt.IClientPublishOptions = { qos: 1 }): Promise<void> {
    await this.client.publishAsync(topic, payload, opts);
  }

  /** The first message (already received or future) that matches; `timeoutMs` is for an idle machine (see deadline.ts). */
  next(match: (m: Received) => boolean, timeoutMs = 20_000, what = 'a message'): Promise<Received> {
    const hit = this.messages.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), deadline(timeoutMs));
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  /** Waits for the result with this id on `topic`. */
  async result(topic: string, id: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const m = await this.next(
      (x) => x.topic === topic && (JSON.parse(x.payload) as { id?: string }).id === id,
      timeoutMs,
      `result ${id} on ${topic}`,
    );
    return JSON.parse(m.payload) as Record<string, unknown>;
  }

  /** Publishes a command with an id and waits for its result. */
  async command(cmdTopic: string, args: Record<string, unknown>, id: string): Promise<Record<string, unknown>> {
    const resultTopic = cmdTopic.replace(/\/cmd\/[^/]+$/, '/result');
    await this.publish(cmdTopic, JSON.stringify({ ...args, id }));
    return this.result(resultTopic, id);
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}
