/**
 * The PWM conformance suite (pwm-suite.ts) against the pwmchip model always,
 * and against a real chip when DEV2MQTT_TEST_PWM=pwmchipN:channel names a
 * free channel of one (on a Raspberry Pi: `dtoverlay=pwm` in config.txt,
 * then DEV2MQTT_TEST_PWM=pwmchip0:0, as root or in the gpio group).
 */
import { describe, it } from 'vitest';
import { FsSysfs } from '../../../src/kernel/sysfs-fs.js';
import { noteSkip } from '../../helpers/tools.js';
import { pwmConformance } from './pwm-suite.js';
import { simChip } from './sim-helpers.js';

const sim = simChip({ chip: 'pwmchip0', channel: 1 });
pwmConformance({ name: 'pwmchip model', sysfs: sim.tree, simTree: sim.tree, chip: 'pwmchip0', channel: 1 });

const real = process.env.DEV2MQTT_TEST_PWM;
if (real) {
  const m = /^(pwmchip\d+):(\d+)$/.exec(real);
  if (!m) throw new Error(`DEV2MQTT_TEST_PWM must be pwmchipN:channel, not '${real}'`);
  pwmConformance({ name: `real ${real}`, sysfs: new FsSysfs('/sys'), chip: m[1]!, channel: Number(m[2]) });
} else {
  noteSkip('PWM conformance on a real chip', 'DEV2MQTT_TEST_PWM not set: the suite needs a free PWM channel (pwmchipN:channel)');
  describe('PWM sysfs conformance: a real chip', () => {
    it.skip('set DEV2MQTT_TEST_PWM=pwmchipN:channel (a free channel) to run this suite against real hardware', () => undefined);
  });
}
