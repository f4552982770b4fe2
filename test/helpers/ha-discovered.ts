/**
 * Discovery configs as Home Assistant reads them off the broker: the topic
 * matched as HA matches it, device-based configs taken apart into their
 * components, per-entity ones as they are; then every component's templates
 * rendered over the messages it would have read.
 */
import { deviceConfigProblems, schemaProblems, TOPIC_MATCHER, type DiscoveredComponent } from './ha-schema.js';
import { stateProblems } from './ha-state.js';
import type { HaTemplates } from './ha-templates.js';
import { TestClient, type Received } from './mqtt-client.js';

export interface Discovered {
  readonly topic: string;
  /** `device` for device-based configs, else the entity's platform. */
  readonly component: string;
  /** HA's node_id level (our node id). */
  readonly nodeId: string | undefined;
  readonly objectId: string;
  readonly payload: Record<string, unknown>;
  readonly components: DiscoveredComponent[];
  readonly problems: string[];
}

export function parseDiscovery(prefix: string, topic: string, payload: string): Discovered {
  const m = TOPIC_MATCHER.exec(topic.slice(prefix.length + 1));
  if (!topic.startsWith(`${prefix}/`) || !m) throw new Error(`${topic} is not a discovery topic HA matches`);
  const [, component, nodeId, objectId] = m as unknown as [string, string, string | undefined, string];
  const config = JSON.parse(payload) as Record<string, unknown>;
  if (component === 'device') {
    const { problems, components } = deviceConfigProblems(config);
    return { topic, component, nodeId, objectId, payload: config, components, problems };
  }
  return {
    topic,
    component,
    nodeId,
    objectId,
    payload: config,
    components: [{ key: objectId, component, config, removal: false }],
    problems: schemaProblems(component, config),
  };
}

/** Every retained config under the prefix right now: a marker published after subscribing arrives after all of them. */
export async function retainedConfigs(url: string, prefix = 'homeassistant'): Promise<Map<string, string>> {
  const c = await TestClient.connect(url);
  await c.subscribe(`${prefix}/#`);
  await c.publish(`${prefix}/dev2mqtt-marker`, 'end');
  await c.next((m) => m.topic === `${prefix}/dev2mqtt-marker`, 20_000, 'the marker');
  await c.end();
  return new Map(c.messages.filter((m) => m.retain && m.topic.endsWith('/config') && m.payload !== '').map((m) => [m.topic, m.payload]));
}

/** The topic a component reads its state from. */
export const readTopic = (c: DiscoveredComponent): string | undefined => c.config.state_topic as string | undefined;

/**
 * Renders every component's templates over each message `client` saw on the
 * topic it reads; returns the problems (with what they were about) and how
 * many messages were judged.
 */
export async function checkStates(
  t: HaTemplates,
  client: TestClient,
  components: readonly DiscoveredComponent[],
  pick: (all: Received[]) => Received[] = (all) => all,
): Promise<{ problems: string[]; judged: number }> {
  const problems: string[] = [];
  let judged = 0;
  for (const c of components) {
    const topic = readTopic(c);
    if (c.removal || !topic) continue;
    for (const m of pick(client.on(topic))) {
      const v = await stateProblems(t, c.component, c.config, m.payload);
      problems.push(...v.problems.map((p) => `${c.component} ${String(c.config.unique_id)} over ${m.payload}: ${p}`));
      judged++;
    }
  }
  return { problems, judged };
}
