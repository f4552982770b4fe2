/**
 * Home Assistant entities of a tape drive: a status sensor (busy with what,
 * online, no tape, write-protected), a position sensor (file:block, with the
 * whole state as attributes), and buttons to rewind and unload.
 */
import type { HaDeviceInfo, HaEntity } from '../../homeassistant/entities.js';
import type { TapeOptions } from './options.js';

const STATUS_TEMPLATE = [
  '{% if value_json.busy %}{{ value_json.busy.command }}',
  '{% elif value_json.doorOpen %}no tape',
  '{% elif not value_json.online %}offline',
  '{% elif value_json.writeProtected %}write-protected',
  '{% else %}ready{% endif %}',
].join('');

export function tapeEntities(d: HaDeviceInfo<TapeOptions>): HaEntity[] {
  const t = d.topics;
  return [
    {
      component: 'sensor',
      part: 'status',
      name: 'Status',
      config: { state_topic: t.state, value_template: STATUS_TEMPLATE, icon: 'mdi:cassette' },
    },
    {
      component: 'sensor',
      part: 'position',
      name: 'Position',
      config: {
        state_topic: t.state,
        value_template: '{{ value_json.fileNumber }}:{{ value_json.blockNumber }}',
        json_attributes_topic: t.state,
        icon: 'mdi:map-marker',
      },
    },
    {
      component: 'button',
      part: 'rewind',
      name: 'Rewind',
      config: { command_topic: t.command('rewind'), payload_press: '{}', icon: 'mdi:rewind' },
    },
    {
      component: 'button',
      part: 'unload',
      name: 'Unload',
      config: { command_topic: t.command('unload'), payload_press: '{}', icon: 'mdi:eject' },
    },
  ];
}
