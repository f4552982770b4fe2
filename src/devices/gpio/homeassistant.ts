/**
 * Home Assistant: an output is a `switch`, an input a `binary_sensor`; both
 * render the state's `state` (ON, OFF, or null — never read — which HA takes
 * as unknown). An input with edge detection also gets an `event` entity fed
 * by the edge events: press/release (the line's logical value going 1/0, so
 * activeLow buttons press on their falling voltage) or rising/falling.
 */
import { event, type HaDeviceInfo, type HaEntity } from '../../homeassistant/entities.js';
import type { GpioOptions } from './backend.js';

const STATE = '{{ value_json.state }}';

/**
 * Edge events as HA event types; other events on the topic render nothing, which HA ignores. So do
 * edges replayed from the offline buffer (`replayed: true`): HA would fire them as presses happening
 * now, which is why it ignores retained event messages too. `is not defined` asks nothing of a
 * missing key, so a live edge logs no template warning.
 */
function eventTemplate(types: GpioOptions['eventTypes']): string {
  const type = types === 'press' ? "'press' if value_json.value == 1 else 'release'" : 'value_json.edge';
  return `{% if value_json.type == 'edge' and value_json.replayed is not defined %}{"event_type":"{{ ${type} }}"}{% endif %}`;
}

function eventTypes(o: GpioOptions): string[] {
  const rising = o.eventTypes === 'press' ? 'press' : 'rising';
  const falling = o.eventTypes === 'press' ? 'release' : 'falling';
  return o.edge === 'both' ? [rising, falling] : o.edge === 'rising' ? [rising] : [falling];
}

export function gpioEntities(info: HaDeviceInfo<GpioOptions>): HaEntity[] {
  const o = info.options;
  const common = { state_topic: info.topics.state, value_template: STATE, payload_on: 'ON', payload_off: 'OFF' };
  if (o.direction === 'out') {
    return [
      {
        component: 'switch',
        name: null,
        config: { ...common, command_topic: info.topics.command('set'), state_on: 'ON', state_off: 'OFF' },
      },
    ];
  }
  const entities: HaEntity[] = [{ component: 'binary_sensor', name: null, config: common }];
  if (o.edge !== 'none') {
    entities.push(
      event({
        part: 'event',
        name: o.eventTypes === 'press' ? 'Button' : 'Edge',
        topic: info.topics.event,
        types: eventTypes(o),
        value: eventTemplate(o.eventTypes),
        ...(o.eventTypes === 'press' ? { deviceClass: 'button' as const } : {}),
      }),
    );
  }
  return entities;
}
