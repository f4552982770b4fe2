/**
 * Device state on disk (simulated media under node.stateDir/devices/{id})
 * on a full tmpfs: the one command that needed new space fails with
 * device_error and its errno, the device stays as it was and usable, and
 * the same command works once there is space again. (A simulated tape on a
 * full disk is checked under a running agent in storage-faults.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { toErrorBody } from '../../src/devices/errors.js';
import { ledKind } from '../../src/devices/led/kind.js';
import { makeTestDevice } from '../helpers/device-context.js';
import { canMountTmpfs, Tmpfs } from './helpers/tmpfs.js';

const mounts: Tmpfs[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) m.cleanup();
});

describe.skipIf(!canMountTmpfs())('device state on a full disk', () => {
  it('a simulated LED: blink needs two new files and fails with ENOSPC, the LED keeps its state and takes what fits', async () => {
    const mount = Tmpfs.mount(128);
    mounts.push(mount);
    const t = makeTestDevice(ledKind, { sim: true, options: { pollMs: 0 }, stateDir: mount.dir });
    await t.device.open();
    mount.fill();
    const e = await t.run('blink', { onMs: 100, offMs: 100 }).catch((x: unknown) => x);
    expect(toErrorBody(e)).toMatchObject({ code: 'device_error', errno: 'ENOSPC' });
    expect(t.device.state()).toMatchObject({ trigger: 'none', state: 'OFF' });
    // Rewriting a file in place needs no new space.
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON', trigger: 'none' });
    mount.unfill();
    await expect(t.run('blink', { onMs: 100, offMs: 100 })).resolves.toMatchObject({ trigger: 'timer', delayOnMs: 100 });
    await t.device.close();
  });
});
