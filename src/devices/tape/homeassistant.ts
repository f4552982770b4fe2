/**
 * Home Assistant entities of a tape drive: a status sensor (busy with what,
 * online, no tape, write-protected), a position sensor (file:block, with the
 * whole state as attributes), and buttons to rewind and unload. The device's
 * manufacturer, model, firmware revision and serial number are the drive's
 * own, from sysfs (identity.ts).
 */
import { button, sensor, type HaDeclaration, type HaDeviceInfo } from '../../homeassistant/entities.js';
import type { TapeIdentity } from './identity.js';
import type { TapeOptions } from './options.js';

const STATUS_TEMPLATE = [
  '{% if value_json.busy %}{{ value_json.busy.command }}',
  '{% elif value_json.doorOpen %}no tape',
  '{% elif not value_json.online %}offline',
  '{% elif value_json.writeProtected %}write-protected',
  '{% else %}ready{% endif %}',
].join('');

export function tapeEntities(d: HaDeviceInfo<TapeOptions>): HaDeclaration {
  const t = d.topics;
  const id = d.state?.identity as TapeIdentity | null | undefined;
  return {
    entities: [
      sensor({ topic: t.state, part: 'status', name: 'Status', value: STATUS_TEMPLATE, icon: 'mdi:cassette' }),
      sensor({
        topic: t.state,
        part: 'position',
        name: 'Position',
        value: '{{ value_json.fileNumber }}:{{ value_json.blockNumber }}',
        attributes: { topic: t.state },
        icon: 'mdi:map-marker',
      }),
      button({ part: 'rewind', name: 'Rewind', command: t.command('rewind'), icon: 'mdi:rewind' }),
      button({ part: 'unload', name: 'Unload', command: t.command('unload'), icon: 'mdi:eject' }),
    ],
    hardware: { manufacturer: id?.vendor, model: id?.model, hwVersion: id?.revision, serialNumber: id?.serial },
  };
}
