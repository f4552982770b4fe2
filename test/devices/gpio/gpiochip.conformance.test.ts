/**
 * The gpiochip conformance suite against our sim, always, and against a real
 * chip when DEV2MQTT_TEST_GPIOCHIP names one (see docs/kinds/gpio.md, "On real
 * hardware"). Skipping the real run is right when no chip is named: it is
 * about hardware this machine lacks, not a missing tool.
 */
import { describe, it } from 'vitest';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { O } from '../../../src/kernel/kernel.js';
import { SimGpioKernel } from '../../../src/devices/gpio/sim-kernel.js';
import { FLAG, chipInfo, lineInfo, requestLine } from '../../../src/devices/gpio/uapi.js';
import { describeGpiochip, type GpiochipTarget } from './gpiochip-suite.js';

const simKernel = new SimGpioKernel([
  {
    path: '/dev/gpiochip0',
    name: 'gpiochip0',
    label: 'pinctrl-sim',
    lineNames: Array.from({ length: 54 }, (_, i) => `GPIO${i}`),
  },
]);
const simChip = simKernel.chip('/dev/gpiochip0');
describeGpiochip({
  name: 'sim',
  kernel: simKernel,
  chipPath: '/dev/gpiochip0',
  line: 17,
  mayDrive: true,
  stimulus: () => ({ set: (level) => simChip?.drive(17, level), release: () => simChip?.drive(17, undefined) }),
});

const realChip = process.env.DEV2MQTT_TEST_GPIOCHIP;
if (realChip) {
  describeGpiochip(realTarget(realChip));
} else {
  describe('gpiochip conformance: real chip', () => {
    it.skip('set DEV2MQTT_TEST_GPIOCHIP=/dev/gpiochipN (and DEV2MQTT_TEST_GPIO_LINE, DEV2MQTT_TEST_GPIO_LOOPBACK) to run this suite on hardware', () =>
      undefined);
  });
}

/**
 * DEV2MQTT_TEST_GPIO_LINE: a free line the suite may drive as an output (without it,
 * the first unused line, requested as an input only). DEV2MQTT_TEST_GPIO_LOOPBACK: a
 * second line wired to the first, driven to make edges.
 */
function realTarget(chipPath: string): GpiochipTarget {
  const kernel = new LibcKernel();
  const given = process.env.DEV2MQTT_TEST_GPIO_LINE;
  const loopback = process.env.DEV2MQTT_TEST_GPIO_LOOPBACK;
  const chip = kernel.open(chipPath, O.RDWR | O.CLOEXEC);
  let line: number;
  try {
    if (given !== undefined) {
      line = Number(given);
    } else {
      const { lines } = chipInfo(chip, kernel.arch);
      line = Array.from({ length: lines }, (_, o) => o).find((o) => !(lineInfo(chip, kernel.arch, o).flags & FLAG.USED)) ?? 0;
    }
  } finally {
    chip.close();
  }
  const stimulus =
    loopback === undefined
      ? undefined
      : () => {
          const c = kernel.open(chipPath, O.RDWR | O.CLOEXEC);
          const out = requestLine(kernel, c, Number(loopback), 'dev2mqtt-test', {
            direction: 'out',
            activeLow: false,
            bias: 'as-is',
            drive: 'push-pull',
            edge: 'none',
            debounceUs: 0,
            initial: 0,
          });
          c.close();
          return { set: (level: 0 | 1) => out.setValue(level), release: () => out.close() };
        };
  return { name: `${chipPath} line ${line}`, kernel, chipPath, line, mayDrive: given !== undefined, ...(stimulus ? { stimulus } : {}) };
}
