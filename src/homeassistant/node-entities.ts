/**
 * The node itself as a Home Assistant device: diagnostic entities read from
 * `{base}/{node}/state` (uptime, memory, commands per minute, the last
 * error, the command journal's health) and a button that has the agent
 * publish its discovery and retained state again (node command `announce`).
 */
import { ERROR_CODES } from '../devices/errors.js';
import { binarySensor, button, sensor, type HaEntity } from './entities.js';

/** The node command the button sends. */
export const ANNOUNCE_COMMAND = 'announce';

export function nodeEntities(stateTopic: string, commandTopic: (name: string) => string): HaEntity[] {
  const diagnostic = { topic: stateTopic, category: 'diagnostic' } as const;
  return [
    sensor({
      ...diagnostic,
      part: 'uptime',
      name: 'Uptime',
      value: '{{ value_json.uptimeS }}',
      deviceClass: 'duration',
      unit: 's',
      stateClass: 'measurement',
      icon: 'mdi:timer-outline',
    }),
    sensor({
      ...diagnostic,
      part: 'rss',
      name: 'Memory',
      value: '{{ value_json.rssBytes }}',
      deviceClass: 'data_size',
      unit: 'B',
      stateClass: 'measurement',
      icon: 'mdi:memory',
    }),
    sensor({
      ...diagnostic,
      part: 'commands_per_minute',
      name: 'Commands per minute',
      value: '{{ value_json.commandsPerMinute if value_json.commandsPerMinute is number else None }}',
      unit: 'commands/min',
      stateClass: 'measurement',
      icon: 'mdi:speedometer',
    }),
    sensor({
      ...diagnostic,
      part: 'last_error',
      name: 'Last error',
      // An enum sensor takes only its options: `none` until a command has failed.
      value: "{{ value_json.lastError.code if value_json.lastError is mapping else 'none' }}",
      deviceClass: 'enum',
      options: ['none', ...ERROR_CODES],
      attributes: { topic: stateTopic, template: '{{ (value_json.lastError if value_json.lastError is mapping else {}) | tojson }}' },
      icon: 'mdi:alert-circle-outline',
    }),
    binarySensor({
      ...diagnostic,
      part: 'journal',
      name: 'Command journal',
      // ON (a problem) while the command journal is degraded; unknown where the node state does not tell.
      value: "{{ ('ON' if value_json.journal == 'degraded' else 'OFF') if value_json.journal is string else None }}",
      deviceClass: 'problem',
      icon: 'mdi:harddisk-remove',
      attributes: {
        topic: stateTopic,
        template: "{{ {'reason': value_json.journalReason if value_json.journalReason is string else None} | tojson }}",
      },
    }),
    button({
      part: 'announce',
      name: 'Republish discovery',
      command: commandTopic(ANNOUNCE_COMMAND),
      category: 'diagnostic',
      icon: 'mdi:broadcast',
    }),
  ];
}
