/**
 * Puts the discovery configs on the broker, retained: on every connect (a
 * broker restarted without persistence is whole again), and when Home
 * Assistant announces itself (`online` on homeassistant.statusTopic) after it
 * restarted. It remembers what it published (in node.stateDir), so a device
 * removed from the config — or discovery switched off — has its configs
 * cleared with empty retained payloads at the next start.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { makeDir } from '../make-dir.js';
import type { InboundMessage, Transport } from '../transport/transport.js';
import { discoveryMessages, type DiscoveryDevice, type DiscoveryMessage, type DiscoverySettings } from './discovery.js';

export interface PublisherOptions {
  readonly transport: Transport;
  /** undefined when homeassistant.enabled is false: then it only clears what an earlier run published. */
  readonly settings: DiscoverySettings | undefined;
  /** homeassistant.statusTopic */
  readonly statusTopic: string;
  readonly devices: () => readonly DiscoveryDevice[];
  readonly stateDir: string;
  readonly log: Logger;
}

/** Home Assistant subscribes right after its birth message: give it a moment, spread over a fleet. */
const BIRTH_DELAY_MIN_MS = 250;
const BIRTH_DELAY_SPREAD_MS = 1000;

const MEMORY_FILE = 'homeassistant-discovery.json';

export class DiscoveryPublisher {
  readonly #o: PublisherOptions;
  readonly #file: string;
  #chain: Promise<void> = Promise.resolve();
  #birthTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: PublisherOptions) {
    this.#o = o;
    this.#file = path.join(o.stateDir, MEMORY_FILE);
  }

  /** The topic to subscribe to besides the command topics, if any. */
  get subscription(): string | undefined {
    return this.#o.settings ? this.#o.statusTopic : undefined;
  }

  /** Whether a message is Home Assistant's status (routed here, not to the dispatcher). */
  handles(topic: string): boolean {
    return this.#o.settings !== undefined && topic === this.#o.statusTopic;
  }

  onMessage(m: InboundMessage): void {
    // A retained `online` is an old birth: the connect that brought it has announced already.
    if (m.retain || m.payload.toString('utf8').trim() !== 'online' || this.#stopped) return;
    clearTimeout(this.#birthTimer);
    this.#birthTimer = setTimeout(
      () => {
        this.#birthTimer = undefined;
        this.#o.log.info('Home Assistant came online: republishing discovery');
        void this.announce();
      },
      BIRTH_DELAY_MIN_MS + Math.random() * BIRTH_DELAY_SPREAD_MS,
    );
    this.#birthTimer.unref?.();
  }

  /** Publishes every config and clears stale ones; concurrent calls run one after the other. */
  announce(): Promise<void> {
    this.#chain = this.#chain
      .then(() => this.#announce())
      .catch((e: unknown) => {
        this.#o.log.warn({ err: (e as Error).message }, 'Home Assistant discovery not (fully) published; retrying on the next connect');
      });
    return this.#chain;
  }

  /** The configs this agent publishes now. */
  messages(): DiscoveryMessage[] {
    const s = this.#o.settings;
    if (!s) return [];
    return discoveryMessages(s, this.#o.devices(), (device, err) => {
      this.#o.log.error({ device, err: err.message }, 'Home Assistant entities left out');
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#birthTimer);
  }

  async #announce(): Promise<void> {
    const t = this.#o.transport;
    if (this.#stopped || !t.connected) return;
    const current = this.messages();
    const keep = new Set(current.map((m) => m.topic));
    const remembered = this.#remembered();
    const stale = remembered.filter((topic) => !keep.has(topic));
    const publishes = [
      ...stale.map((topic) => t.publish(topic, '', { qos: 1, retain: true })),
      ...current.map((m) => t.publish(m.topic, JSON.stringify(m.config), { qos: 1, retain: true })),
    ];
    await Promise.all(publishes);
    // Remembered only once the broker has it all, so a failed run clears the stale ones next time.
    try {
      // Unchanged, it is not written again: every reconnect would otherwise be a write to the SD card.
      if (stale.length || remembered.length !== keep.size) this.#remember([...keep]);
    } catch (e) {
      this.#o.log.warn(
        { file: this.#file, err: (e as Error).message },
        'cannot save the list of published discovery configs: configs of devices removed later may stay in Home Assistant',
      );
    }
    if (stale.length) this.#o.log.info({ cleared: stale.length }, 'cleared Home Assistant configs of devices no longer configured');
    if (current.length) this.#o.log.debug({ configs: current.length }, 'Home Assistant discovery published');
  }

  #remembered(): string[] {
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return [];
    }
    try {
      const v = JSON.parse(text) as { published?: unknown };
      return Array.isArray(v.published) ? v.published.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      this.#o.log.warn({ file: this.#file }, 'unreadable list of published discovery configs; stale ones cannot be cleared');
      return [];
    }
  }

  #remember(topics: string[]): void {
    makeDir(path.dirname(this.#file));
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ published: topics.sort() }, null, 1)}\n`);
    renameSync(tmp, this.#file);
  }
}
