/**
 * Puts the discovery configs on the broker, retained: on every connect (a
 * broker restarted without persistence is whole again), when Home Assistant
 * announces itself (`online` on homeassistant.statusTopic) after it
 * restarted, on the node's `announce` command, and — only the configs that
 * changed — when a device's state changes what its kind declares (the model
 * a modem reported, the triggers an LED offers).
 *
 * It takes back what it no longer publishes (memory.ts): configs of devices
 * gone from the config, or all of them with discovery switched off, get an
 * empty retained payload; entities gone from a device's config get HA's
 * removal entry (`{"p": platform}`); and the first scheme's per-entity
 * topics are cleared once. The clearing goes first, so HA has let go of an
 * entity id before the new config asks for it.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { InboundMessage, Transport } from '../transport/transport.js';
import {
  discoveryPlan,
  withRemovals,
  type DiscoveryDevice,
  type DiscoveryMessage,
  type DiscoveryPlan,
  type DiscoverySettings,
  type HardwareMemo,
} from './discovery.js';
import type { HaComponent } from './entities.js';
import { MEMORY_FILE, readMemory, samePublished, writeMemory, type Memory } from './memory.js';

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
/** State changes come in bursts (a device opening): look at what they changed once they settle. */
const CHANGE_SETTLE_MS = 1000;
/** How long a connect's announce waits for the devices' first open: one stuck opening must not hide the others. */
const OPEN_WAIT_MS = 5000;

export class DiscoveryPublisher {
  readonly #o: PublisherOptions;
  readonly #file: string;
  readonly #memo: HardwareMemo = new Map();
  /** What each topic got this session, so a change check publishes only what differs. */
  readonly #sent = new Map<string, string>();
  /**
   * What has been published, read from the file once and kept here: a state dir that cannot be
   * written (read-only, full) must not have every announce clear the first scheme again, nor every
   * change check try the file again.
   */
  #memory: Memory | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #birthTimer: NodeJS.Timeout | undefined;
  #changeTimer: NodeJS.Timeout | undefined;
  /** Change checks wait for the first full announce: it takes back the old configs first. */
  #announced = false;
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

  /**
   * Publishes every config and takes back stale ones; resolves to the number
   * of configs published (0 when not connected or it failed: it is retried on
   * the next connect). Calls run one after the other.
   */
  announce(): Promise<number> {
    return this.#queue(false);
  }

  /** announce() once `opened` settles (the devices' first open: what they read is in the first configs), or after OPEN_WAIT_MS. */
  async announceAfter(opened: Promise<unknown>): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, OPEN_WAIT_MS);
      timer.unref?.();
    });
    await Promise.race([opened.catch(() => undefined), waited]);
    clearTimeout(timer);
    return this.announce();
  }

  /** A device's state changed: once things settle, republish the configs this changed (usually none). */
  deviceChanged(): void {
    if (!this.#o.settings || this.#stopped || this.#changeTimer) return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      void this.#queue(true);
    }, CHANGE_SETTLE_MS);
    this.#changeTimer.unref?.();
  }

  /** What this agent publishes now. */
  plan(): DiscoveryPlan {
    const s = this.#o.settings;
    if (!s) return { messages: [], legacyTopics: [] };
    return discoveryPlan(s, this.#o.devices(), this.#memo, (device, err) => {
      this.#o.log.error({ device: device ?? '(node)', err: err.message }, 'Home Assistant entities left out');
    });
  }

  messages(): DiscoveryMessage[] {
    return this.plan().messages;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#birthTimer);
    clearTimeout(this.#changeTimer);
  }

  #queue(changedOnly: boolean): Promise<number> {
    const run = this.#chain.then(() => this.#publish(changedOnly));
    this.#chain = run.catch(() => undefined);
    return run.catch((e: unknown) => {
      this.#o.log.warn({ err: (e as Error).message }, 'Home Assistant discovery not (fully) published; retrying on the next connect');
      return 0;
    });
  }

  async #publish(changedOnly: boolean): Promise<number> {
    const t = this.#o.transport;
    if (this.#stopped || !t.connected || (changedOnly && !this.#announced)) return 0;
    const memory = (this.#memory ??= readMemory(this.#file, this.#o.log));
    if (!this.#o.settings && memory.published.size === 0) return 0;
    const plan = this.plan();
    const current = plan.messages.map((m) => withRemovals(m, memory.published.get(m.topic)));
    const next = new Map<string, Readonly<Record<string, HaComponent>>>(plan.messages.map((m) => [m.topic, m.components]));

    if (changedOnly) {
      // Stale configs wait for the next full announce.
      for (const [topic, components] of memory.published) if (!next.has(topic)) next.set(topic, components);
    } else {
      const stale = [...memory.published.keys()].filter((topic) => !next.has(topic));
      if (!memory.migrated) stale.push(...plan.legacyTopics.filter((topic) => !next.has(topic) && !stale.includes(topic)));
      const results = await Promise.allSettled(stale.map((topic) => t.publish(topic, '', { qos: 1, retain: true })));
      const failed = stale.filter((_, i) => results[i]?.status === 'rejected');
      // Kept, so the next connect tries again (an ACL that still refuses the first scheme's topics, say).
      for (const topic of failed) next.set(topic, memory.published.get(topic) ?? {});
      for (const topic of stale) this.#sent.delete(topic);
      if (failed.length) {
        const reason = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as Error;
        this.#o.log.warn({ topics: failed, err: reason.message }, 'could not clear old Home Assistant configs; will try again');
      }
      if (stale.length > failed.length)
        this.#o.log.info({ cleared: stale.length - failed.length }, 'cleared Home Assistant configs no longer published');
    }

    const payloads = current.map((m) => ({ topic: m.topic, payload: JSON.stringify(m.config) }));
    const changed = changedOnly ? payloads.filter((p) => this.#sent.get(p.topic) !== p.payload) : payloads;
    await Promise.all(changed.map((p) => t.publish(p.topic, p.payload, { qos: 1, retain: true })));
    for (const p of changed) this.#sent.set(p.topic, p.payload);
    // Remembered only once the broker has it all, so a failed run takes back the stale ones next time.
    if (!memory.migrated || !samePublished(memory.published, next)) this.#remember(next);
    if (!changedOnly) this.#announced = true;
    if (changed.length) this.#o.log.debug({ configs: changed.length, changedOnly }, 'Home Assistant discovery published');
    return changed.length;
  }

  #remember(published: ReadonlyMap<string, Readonly<Record<string, HaComponent>>>): void {
    this.#memory = { migrated: true, published };
    try {
      writeMemory(this.#file, published);
    } catch (e) {
      // Discovery itself went out; only taking back configs after a later change depends on this file.
      this.#o.log.warn({ file: this.#file, err: (e as Error).message }, 'could not remember the published Home Assistant configs');
    }
  }
}
