/**
 * The emulated-ABI job's vitest run (.ci/emulated-abi.mjs sets the
 * environment and starts it, once per ABI):
 *  - the kernel suite in that ABI's Node under qemu-user (test/emulated/qemu-pool.ts):
 *    the ioctl core on real ptys through QEMU's syscall translation, struct
 *    layouts and encode/decode for the process's own ABI, request codes
 *    against the cross compiler's view of the headers, the termios fallback;
 *  - natively, tests that start that ABI's Node on the packed tarball: the
 *    CLI and the README walkthrough (test/emulated/).
 */
import { configDefaults, defineConfig } from 'vitest/config';
import { qemuPool } from './test/emulated/qemu-pool.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run node .ci/emulated-abi.mjs armhf|arm64`);
  return v;
}

const abi = need('DEV2MQTT_ABI');

export default defineConfig({
  test: {
    // Safety bounds for waits that never end; the tests wait on events. Emulated Node is 5–20 times slower.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: `kernel suite in ${abi} Node`,
          include: ['test/kernel/*.test.ts', 'test/devices/serial/termios-fallback.test.ts'],
          exclude: configDefaults.exclude,
          // One emulated worker takes every file in turn: starting one costs seconds of CPU under
          // emulation, and vitest gives a worker's start a fixed time however loaded the machine is.
          isolate: false,
          maxWorkers: 1,
          sequence: { groupOrder: 0 },
          pool: qemuPool(`qemu-${abi}`, {
            emulator: JSON.parse(need('DEV2MQTT_ABI_QEMU')) as string[],
            node: need('DEV2MQTT_ABI_NODE'),
            env: {
              // test/helpers/native.ts: this process is emulated; its programs go through the same emulator.
              DEV2MQTT_EMULATOR: need('DEV2MQTT_ABI_QEMU'),
              DEV2MQTT_EMULATED_CC: need('DEV2MQTT_ABI_CC'),
              DEV2MQTT_KERNEL_MACHINE: need('DEV2MQTT_ABI_KERNEL_MACHINE'),
            },
          }),
        },
      },
      {
        extends: true,
        test: {
          name: `${abi} package, natively driven`,
          include: ['test/emulated/*.test.ts'],
          pool: 'forks',
          // After the kernel suite, not beside it: each of these starts emulated processes too.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
