/**
 * A kind's Home Assistant entities for one device, as discovery asks for
 * them: options parsed by the kind's own schema, topics from the topic scheme.
 */
import { deviceCommandTopic, deviceTopic, type TopicScheme } from '../../src/agent/topics.js';
import type { AnyKind } from '../../src/devices/kind.js';
import { declarationOf, type HaDeclaration, type HaEntity } from '../../src/homeassistant/entities.js';

export function kindEntities(kind: AnyKind, scheme: TopicScheme, id: string, options: Record<string, unknown>, sim = false): HaEntity[] {
  return [...kindDeclaration(kind, scheme, id, options, sim, undefined).entities];
}

/** The whole declaration, for a device whose state is `state` (undefined: not opened yet). */
export function kindDeclaration(
  kind: AnyKind,
  scheme: TopicScheme,
  id: string,
  options: Record<string, unknown>,
  sim: boolean,
  state: Readonly<Record<string, unknown>> | undefined,
): HaDeclaration {
  const parsed = kind.options(sim).parse(options);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  if (!kind.homeassistant) return { entities: [] };
  const answer = kind.homeassistant({
    id,
    name: id,
    sim,
    options: parsed.value,
    topics: {
      state: deviceTopic(scheme, id, 'state'),
      event: deviceTopic(scheme, id, 'event'),
      availability: deviceTopic(scheme, id, 'availability'),
      command: (c) => deviceCommandTopic(scheme, id, c),
    },
    state,
  });
  return declarationOf(answer);
}
