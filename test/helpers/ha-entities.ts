/**
 * A kind's Home Assistant entities for one device, as discovery asks for
 * them: options parsed by the kind's own schema, topics from the topic scheme.
 */
import { deviceCommandTopic, deviceTopic, type TopicScheme } from '../../src/agent/topics.js';
import type { AnyKind } from '../../src/devices/kind.js';
import type { HaEntity } from '../../src/homeassistant/entities.js';

export function kindEntities(kind: AnyKind, scheme: TopicScheme, id: string, options: Record<string, unknown>, sim = false): HaEntity[] {
  const parsed = kind.options(sim).parse(options);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return (
    kind.homeassistant?.({
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
    }) ?? []
  );
}
