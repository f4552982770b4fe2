/**
 * What the Node-RED tests stand on: an agent with the demo devices, on its
 * embedded broker (aedes, MQTT 3.1.1) or on a real mosquitto started here on a
 * free loopback port; and collectors for what Node-RED nodes receive.
 */
import { rmSync } from 'node:fs';
import type { Agent } from '../../../src/agent/agent.js';
import { startAgent } from '../../../test/helpers/agent.js';
import { curatedDemoDevices } from '../../../test/helpers/demo-devices.js';
import { haveMosquitto, Mosquitto } from '../../../test/helpers/mosquitto.js';
import type { NrMessage, NrNode, NrStatus, TestHelper } from './node-red.js';

export interface Setup {
  readonly name: string;
  readonly broker: 'embedded' | 'mosquitto';
  /** What the Node-RED broker node speaks: 4 (3.1.1) or 5. */
  readonly protocol: 4 | 5;
}

export const SETUPS: readonly Setup[] = [
  { name: 'the embedded broker (aedes, MQTT 3.1.1)', broker: 'embedded', protocol: 4 },
  { name: 'mosquitto, Node-RED on MQTT 5', broker: 'mosquitto', protocol: 5 },
  { name: 'mosquitto, Node-RED on MQTT 3.1.1', broker: 'mosquitto', protocol: 4 },
];

/** Throws under CI when mosquitto is missing; outside CI, false means: skip. */
export const mosquittoReady = haveMosquitto();

export interface World {
  readonly agent: Agent;
  readonly url: string;
  readonly mosquitto?: Mosquitto;
  stop(): Promise<void>;
}

/** An agent (node id `nodeId`) with the demo devices, on the broker the setup names. */
export async function startWorld(setup: Setup, nodeId: string): Promise<World> {
  const mosquitto = setup.broker === 'mosquitto' ? await Mosquitto.start({ persistence: true }) : undefined;
  const mqtt = mosquitto ? { url: mosquitto.url, protocolVersion: 5 } : {};
  const agent = await startAgent({ config: { node: { id: nodeId }, mqtt, devices: curatedDemoDevices() } });
  const url = mosquitto?.url ?? `mqtt://127.0.0.1:${agent.brokerPort}`;
  return {
    agent,
    url,
    ...(mosquitto ? { mosquitto } : {}),
    async stop() {
      await agent.stop();
      await mosquitto?.stop();
      for (const dir of [agent.config.node.stateDir, mosquitto?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Waiter<T> = { readonly match: (x: T) => boolean; readonly resolve: (x: T) => void };

/** Everything that arrives somewhere, kept in order, with a wait for the first that matches. */
export class Inbox<T> {
  readonly items: T[] = [];
  #waiters: Array<Waiter<T>> = [];

  push(x: T): void {
    this.items.push(x);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(x)) return true;
      w.resolve(x);
      return false;
    });
  }

  /** The first item (already here or still to come) that matches; `what` names it when the test times out. */
  next(match: (x: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
    const hit = this.items.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} came`)), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (x) => {
          clearTimeout(timer);
          resolve(x);
        },
      });
    });
  }

  /** Resolves with the items matching `match` once there are `n` of them. */
  async count(n: number, match: (x: T) => boolean, what: string, timeoutMs = 60_000): Promise<T[]> {
    const have = (): T[] => this.items.filter(match);
    if (have().length < n) await this.next(() => have().length >= n, `${n} ${what}`, timeoutMs);
    return have();
  }
}

/** Collects every message the node with this id receives (a `helper` node, a debug node …), mapped by `map`. */
export function inbox<T = NrMessage>(helper: TestHelper, id: string, map: (m: NrMessage) => T = (m) => m as T): Inbox<T> {
  const box = new Inbox<T>();
  node(helper, id).on('input', (m) => box.push(map(m)));
  return box;
}

/** Collects every status the node with this id shows. */
export function statuses(helper: TestHelper, id: string): Inbox<NrStatus> {
  const box = new Inbox<NrStatus>();
  node(helper, id).on('call:status', (call) => box.push(call.args[0] ?? {}));
  return box;
}

export function node(helper: TestHelper, id: string): NrNode {
  const n = helper.getNode(id);
  if (!n) throw new Error(`no node ${id} in the flow`);
  return n;
}
