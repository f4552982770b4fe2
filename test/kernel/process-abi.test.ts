/**
 * The layout follows the ABI of this Node process (process.arch, and what
 * koffi measures in it), never the kernel's `uname`: a 32-bit Raspberry Pi
 * OS runs armhf Node on a 64-bit kernel (uname says aarch64), and its structs
 * must still be laid out for armhf. Natively this checks x86_64; the
 * emulated-ABI job runs the same file in an armhf Node under qemu-user that
 * sees an aarch64 kernel (its guest uname is made to say so, as on a Pi 4/5),
 * and in an arm64 Node.
 */
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { hostArch } from '../../src/kernel/arch.js';
import { sizeOf } from '../../src/kernel/ctypes.js';
import { koffiSizeof } from '../../src/kernel/libc-types.js';
import { catalogue } from '../../src/kernel/requests.js';
import { mtget } from '../../src/kernel/structs.js';
import { tapeKind } from '../../src/devices/tape/kind.js';
import { makeTestDevice } from '../helpers/device-context.js';
import { hookIoctls } from '../helpers/kernel-hook.js';
import { emulated } from '../helpers/native.js';

/** What each Node build is, by the C ABI it was compiled for. */
const EXPECTED: Record<string, { arch: string; long: number; mtget: number; MTIOCGET: number }> = {
  x64: { arch: 'x86_64', long: 8, mtget: 48, MTIOCGET: 0x80306d02 },
  arm64: { arch: 'aarch64', long: 8, mtget: 48, MTIOCGET: 0x80306d02 },
  arm: { arch: 'armhf', long: 4, mtget: 28, MTIOCGET: 0x801c6d02 },
  ia32: { arch: 'i386', long: 4, mtget: 28, MTIOCGET: 0x801c6d02 },
};
const want = EXPECTED[process.arch];

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe.runIf(want)(`this Node process (${process.arch}) decides the layout`, () => {
  const w = want as NonNullable<typeof want>;

  if (process.env.DEV2MQTT_KERNEL_MACHINE) {
    it(`the kernel says ${process.env.DEV2MQTT_KERNEL_MACHINE}, and that changes nothing`, () => {
      expect(os.machine()).toBe(process.env.DEV2MQTT_KERNEL_MACHINE);
      expect(hostArch().name).toBe(w.arch);
    });
  }

  it(`the arch is ${w.arch}: long is ${w.long} bytes to our layout engine and to koffi`, () => {
    const arch = hostArch();
    expect(arch.name).toBe(w.arch);
    expect(arch.longSize).toBe(w.long);
    expect(sizeOf(mtget, arch)).toBe(w.mtget);
    expect(koffiSizeof(mtget)).toBe(w.mtget);
  });

  it(`MTIOCGET carries that size: 0x${w.MTIOCGET.toString(16)}`, () => {
    const req = catalogue(hostArch()).get('MTIOCGET');
    expect(req.size).toBe(w.mtget);
    expect(req.value).toBe(w.MTIOCGET);
  });

  it(`the tape sim is handed and fills a ${w.mtget}-byte struct mtget`, async () => {
    const seen: Array<{ name: string; size: number; bytes: number }> = [];
    const t = await makeTestDevice(tapeKind, {
      sim: true,
      options: { pollMs: 0 },
      wrapKernel: (k) =>
        hookIoctls(k, (req, arg) => {
          if (req.name === 'MTIOCGET') seen.push({ name: req.name, size: req.size, bytes: Buffer.isBuffer(arg) ? arg.length : -1 });
        }),
    });
    cleanup.push(() => t.device.close());
    await t.device.open();
    const status = (await t.run('status')) as Record<string, unknown>;
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s).toEqual({ name: 'MTIOCGET', size: w.mtget, bytes: w.mtget });
    // The model answered on that layout, and it decodes to a drive at the beginning of a tape.
    expect(status).toMatchObject({ online: true, bot: true, fileNumber: 0, blockNumber: 0 });
  });
});

describe('when it runs where it should', () => {
  it(emulated ? 'under the emulated-ABI job' : 'natively', () => {
    // An arch without a row above would skip the suite silently: say so instead.
    expect(want, `no expectations for process.arch ${process.arch}`).toBeDefined();
  });
});
