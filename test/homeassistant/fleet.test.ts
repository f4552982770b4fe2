/**
 * Two agents on one broker whose ids the first scheme ran together: node
 * `pi` with device `kitchen_led` and node `pi_kitchen` with device `led`
 * (both were `homeassistant/light/pi_kitchen_led/config`, unique_id
 * `dev2mqtt_pi_kitchen_led`). In both discovery forms they now share no
 * topic, unique_id or device identifier, and each agent's configs stay
 * retained, untouched, while the other restarts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { legacyConfigTopic } from '../../src/homeassistant/ids.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { parseDiscovery, retainedConfigs } from '../helpers/ha-discovered.js';
import { haveMosquittoBroker, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';

interface Node {
  readonly id: string;
  readonly device: string;
  readonly stateDir: string;
  agent?: Agent;
}

/** What one node has retained under the prefix, and the ids in it. */
function owned(prefix: string, retained: Map<string, string>, node: string) {
  const topics = [...retained.keys()].filter((t) => t.split('/')[2] === node).sort();
  const uniqueIds: string[] = [];
  const identifiers: string[] = [];
  for (const topic of topics) {
    const d = parseDiscovery(prefix, topic, retained.get(topic)!);
    expect(d.problems, topic).toEqual([]);
    for (const c of d.components) {
      uniqueIds.push(c.config.unique_id as string);
      identifiers.push(...((c.config.device as { identifiers: string[] }).identifiers ?? []));
    }
  }
  return { topics, uniqueIds, identifiers: [...new Set(identifiers)], payloads: topics.map((t) => retained.get(t)) };
}

const disjoint = (a: readonly string[], b: readonly string[]): string[] => a.filter((x) => b.includes(x));

describe.skipIf(!haveMosquittoBroker())('a fleet on one broker', () => {
  let broker: Mosquitto | undefined;
  const agents: Agent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await broker?.stop();
  });

  it('had one topic for both under the first scheme', () => {
    expect(legacyConfigTopic('homeassistant', 'light', 'pi', 'kitchen_led', undefined)).toBe(
      legacyConfigTopic('homeassistant', 'light', 'pi_kitchen', 'led', undefined),
    );
  });

  for (const form of ['device', 'entity'] as const) {
    it(`${form} form: no shared topic, unique_id or identifier; each keeps its configs while the other restarts`, async () => {
      broker ??= await Mosquitto.start();
      const url = broker.url;
      const prefix = `ha-${form}`;
      const nodes: Node[] = [
        { id: 'pi', device: 'kitchen_led', stateDir: tempDir('dev2mqtt-state-') },
        { id: 'pi_kitchen', device: 'led', stateDir: tempDir('dev2mqtt-state-') },
      ];
      const watcher = await TestClient.connect(url);
      await watcher.subscribe(`${prefix}/#`);
      const configOf = (n: Node) =>
        form === 'device' ? `${prefix}/device/${n.id}/${n.device}/config` : `${prefix}/light/${n.id}/${n.device}/config`;
      const start = async (n: Node): Promise<void> => {
        const seen = watcher.messages.length;
        n.agent = await startAgent({
          config: {
            node: { id: n.id, stateDir: n.stateDir },
            mqtt: { url },
            homeassistant: { enabled: true, discovery: form, discoveryPrefix: prefix, statusTopic: `${prefix}/status` },
            devices: [{ id: n.device, kind: 'led', sim: true, options: {} }],
          },
        });
        agents.push(n.agent);
        await watcher.next(
          (m) => watcher.messages.indexOf(m) >= seen && m.topic === configOf(n) && m.payload !== '',
          20_000,
          `${n.id}'s config`,
        );
      };
      for (const n of nodes) await start(n);

      const before = await retainedConfigs(url, prefix);
      const [a, b] = nodes.map((n) => owned(prefix, before, n.id)) as [ReturnType<typeof owned>, ReturnType<typeof owned>];
      expect(a.topics.length).toBeGreaterThan(0);
      expect(b.topics.length).toBeGreaterThan(0);
      expect([...before.keys()].sort()).toEqual([...a.topics, ...b.topics].sort());
      expect(disjoint(a.topics, b.topics)).toEqual([]);
      expect(disjoint(a.uniqueIds, b.uniqueIds)).toEqual([]);
      expect(disjoint(a.identifiers, b.identifiers)).toEqual([]);
      expect(new Set([...a.uniqueIds, ...b.uniqueIds]).size).toBe(a.uniqueIds.length + b.uniqueIds.length);

      for (const [restarted, other] of [
        [nodes[0]!, nodes[1]!],
        [nodes[1]!, nodes[0]!],
      ] as const) {
        const seen = watcher.messages.length;
        await restarted.agent!.stop();
        await start(restarted);
        const after = await retainedConfigs(url, prefix);
        expect(owned(prefix, after, other.id), `${other.id} after ${restarted.id} restarted`).toEqual(owned(prefix, before, other.id));
        const cleared = watcher.messages.slice(seen).filter((m) => m.payload === '' && m.topic.split('/')[2] === other.id);
        expect(cleared.map((m) => m.topic)).toEqual([]);
      }
      await watcher.end();
    });
  }
});
