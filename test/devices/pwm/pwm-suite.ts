/**
 * The PWM conformance suite: what the kernel's PWM sysfs interface does
 * (export/unexport, EBUSY, EINVAL for a period of 0 or a duty cycle above the
 * period, ENODEV, read-only and write-only attributes), and the `pwm` kind on
 * top of it, in one set of checks run against the pwmchip model always and
 * against a real chip when DEV2MQTT_TEST_PWM=pwmchipN:channel names one
 * (pwm.conformance.test.ts). On real hardware the channel must be free (no
 * kernel driver holds it) and nothing may be wired to it that a 1 kHz signal
 * could harm; the suite leaves it unexported if it found it so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwmKind } from '../../../src/devices/pwm/kind.js';
import { KernelError } from '../../../src/kernel/errors.js';
import type { Sysfs } from '../../../src/kernel/sysfs.js';
import { makeTestDevice } from '../../helpers/device-context.js';

export interface PwmTarget {
  readonly name: string;
  /** The tree the chip is in: the real /sys, or the sim's. */
  readonly sysfs: Sysfs;
  readonly chip: string;
  readonly channel: number;
  /** The sim tree to hand the kind (absent: the kind opens the real sysfs at sysfs.root). */
  readonly simTree?: Sysfs;
}

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

export function pwmConformance(target: PwmTarget): void {
  const { sysfs, chip, channel } = target;
  const chipDir = `class/pwm/${chip}`;
  const dir = `${chipDir}/pwm${channel}`;
  const attr = (a: string): string => `${dir}/${a}`;

  describe(`PWM sysfs conformance: ${target.name}`, () => {
    let wasExported = false;
    beforeAll(async () => {
      wasExported = await sysfs.exists(dir);
      if (wasExported) await sysfs.write(`${chipDir}/unexport`, String(channel));
    });
    afterAll(async () => {
      const now = await sysfs.exists(dir);
      if (now && !wasExported) await sysfs.write(`${chipDir}/unexport`, String(channel));
      if (!now && wasExported) await sysfs.write(`${chipDir}/export`, String(channel));
    });

    it('npwm is read-only and counts the channel; export and unexport are write-only (EACCES, root or not)', async () => {
      expect(await sysfs.number(`${chipDir}/npwm`)).toBeGreaterThan(channel);
      expect(await errnoOf(sysfs.write(`${chipDir}/npwm`, '1'))).toBe('EACCES');
      expect(await errnoOf(sysfs.read(`${chipDir}/export`))).toBe('EACCES');
      expect(await errnoOf(sysfs.read(`${chipDir}/unexport`))).toBe('EACCES');
    });

    it('export makes pwmM/ with period, duty_cycle, enable and polarity; a second export is EBUSY', async () => {
      expect(await sysfs.exists(dir)).toBe(false);
      await sysfs.write(`${chipDir}/export`, String(channel));
      for (const a of ['period', 'duty_cycle', 'enable', 'polarity']) expect(await sysfs.exists(attr(a)), a).toBe(true);
      expect(['normal', 'inversed']).toContain(await sysfs.value(attr('polarity')));
      expect(await errnoOf(sysfs.write(`${chipDir}/export`, String(channel)))).toBe('EBUSY');
    });

    it('each write is a whole new state: a period of 0 or a duty cycle above the period is EINVAL, and nothing changes', async () => {
      await sysfs.write(attr('period'), '1000000');
      await sysfs.write(attr('duty_cycle'), '500000');
      expect(await errnoOf(sysfs.write(attr('duty_cycle'), '1000001'))).toBe('EINVAL');
      expect(await errnoOf(sysfs.write(attr('period'), '400000'))).toBe('EINVAL');
      expect(await errnoOf(sysfs.write(attr('period'), '0'))).toBe('EINVAL');
      expect(await errnoOf(sysfs.write(attr('duty_cycle'), 'half'))).toBe('EINVAL');
      expect(await sysfs.number(attr('period'))).toBe(1_000_000);
      expect(await sysfs.number(attr('duty_cycle'))).toBe(500_000);
      // A duty cycle equal to the period is allowed (full on).
      await sysfs.write(attr('duty_cycle'), '1000000');
      await sysfs.write(attr('duty_cycle'), '0');
    });

    it('enable takes 0 or 1, polarity normal or inversed; anything else is EINVAL', async () => {
      expect(await errnoOf(sysfs.write(attr('enable'), '2'))).toBe('EINVAL');
      expect(await errnoOf(sysfs.write(attr('polarity'), 'sideways'))).toBe('EINVAL');
      await sysfs.write(attr('enable'), '1');
      expect(await sysfs.number(attr('enable'))).toBe(1);
      await sysfs.write(attr('enable'), '0\n');
      expect(await sysfs.number(attr('enable'))).toBe(0);
    });

    it('unexport removes pwmM/; again is ENODEV, and so is a channel past npwm', async () => {
      await sysfs.write(`${chipDir}/unexport`, String(channel));
      expect(await sysfs.exists(dir)).toBe(false);
      expect(await errnoOf(sysfs.write(`${chipDir}/unexport`, String(channel)))).toBe('ENODEV');
      const npwm = await sysfs.number(`${chipDir}/npwm`);
      expect(await errnoOf(sysfs.write(`${chipDir}/export`, String(npwm)))).toBe('ENODEV');
      expect(await errnoOf(sysfs.write(`${chipDir}/export`, 'x'))).toBe('EINVAL');
    });

    describe('the pwm kind on it', () => {
      const open = async (periodNs: number) => {
        const t = await makeTestDevice(pwmKind, {
          options: { chip, channel, periodNs, sysfsRoot: sysfs.root, pollMs: 0, fadeStepMs: 10 },
          ...(target.simTree ? { sysfs: target.simTree } : {}),
        });
        await t.device.open();
        return t;
      };

      it('open exports the channel, sets the period and leaves the output as it was (off)', async () => {
        expect(await sysfs.exists(dir)).toBe(false);
        const t = await open(1_000_000);
        expect(await sysfs.number(attr('period'))).toBe(1_000_000);
        expect(t.device.state()).toMatchObject({ state: 'OFF', periodNs: 1_000_000, chip, channel });
        await t.device.close();
        expect(await sysfs.exists(dir)).toBe(true);
      });

      it('set: a percentage becomes duty_cycle; ON goes back to the last level; OFF is duty 0; off disables', async () => {
        const t = await open(1_000_000);
        await expect(t.run('set', { value: 50 })).resolves.toMatchObject({ state: 'ON', dutyNs: 500_000, percent: 50, enabled: true });
        expect(await sysfs.number(attr('duty_cycle'))).toBe(500_000);
        expect(await sysfs.number(attr('enable'))).toBe(1);
        await expect(t.run('set', { value: 'OFF' })).resolves.toMatchObject({ state: 'OFF', dutyNs: 0, enabled: true });
        await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON', dutyNs: 500_000 });
        await expect(t.run('set', { dutyNs: 250_000 })).resolves.toMatchObject({ percent: 25 });
        await expect(t.run('off')).resolves.toMatchObject({ state: 'OFF', enabled: false, dutyNs: 0 });
        expect(await sysfs.number(attr('enable'))).toBe(0);
        await t.device.close();
      });

      it('fade arrives where it was sent', async () => {
        const t = await open(1_000_000);
        await expect(t.run('fade', { toPercent: 30, ms: 100 })).resolves.toMatchObject({ state: 'ON', dutyNs: 300_000 });
        await expect(t.run('fade', { toPercent: 0, ms: 50 })).resolves.toMatchObject({ state: 'OFF', dutyNs: 0 });
        await t.device.close();
      });

      it('a new period below the current duty cycle is written duty first, keeping the share of the period', async () => {
        await sysfs.write(attr('period'), '2000000');
        await sysfs.write(attr('duty_cycle'), '1500000');
        const t = await open(1_000_000);
        expect(await sysfs.number(attr('period'))).toBe(1_000_000);
        expect(await sysfs.number(attr('duty_cycle'))).toBe(750_000);
        expect(t.device.state()).toMatchObject({ percent: 75 });
        await t.device.close();
      });
    });
  });
}
