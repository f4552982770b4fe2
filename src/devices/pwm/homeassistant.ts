/**
 * A PWM channel in Home Assistant, as its `haEntity` option says: a JSON
 * light with brightness (a dimmable LED strip; brightness_scale 100, so HA's
 * brightness is the percentage, and HA's transitions become fades), or a
 * number from 0 to 100 % (a fan's speed, a valve).
 */
import type { HaDeviceInfo, HaEntity } from '../../homeassistant/entities.js';
import type { PwmOptions } from './device.js';

export function pwmEntities(info: HaDeviceInfo<PwmOptions>): HaEntity[] {
  if (info.options.haEntity === 'number') {
    return [
      {
        component: 'number',
        name: null,
        config: {
          state_topic: info.topics.state,
          value_template: '{{ value_json.percent }}',
          command_topic: info.topics.command('set'),
          min: 0,
          max: 100,
          step: 1,
          mode: 'slider',
          unit_of_measurement: '%',
        },
      },
    ];
  }
  return [
    {
      component: 'light',
      name: null,
      config: {
        schema: 'json',
        state_topic: info.topics.state,
        command_topic: info.topics.command('set'),
        brightness: true,
        brightness_scale: 100,
        supported_color_modes: ['brightness'],
        transition: true,
        flash: false,
      },
    },
  ];
}
