/**
 * `pwm` on the pwmchip model: the forms of `set`, ON going back to the last
 * level, fades in steps on timers (the event loop runs on between them) that
 * stop where they are when aborted, what open() does to a channel that is
 * already running, the export edge cases (a driver holding the channel,
 * udev's delay, a channel past npwm, a chip named by its device), and the
 * channel or chip going away.
 */
import { describe, expect, it, vi } from 'vitest';
import { pwmKind } from '../../../src/devices/pwm/kind.js';
import { failure } from '../../helpers/command-error.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { simChip } from './sim-helpers.js';
import { turnsDuring } from '../../helpers/event-loop.js';

const DIR = 'class/pwm/pwmchip0/pwm0';

async function pwm(options: Record<string, unknown> = {}, prime?: (sim: ReturnType<typeof simChip>) => Promise<void>) {
  const sim = simChip(options);
  await prime?.(sim);
  // The device sees the model as a real tree: the sim-only options stay with the model.
  const { simChannels: _n, simInversed: _i, ...real } = { ...sim.options, pollMs: 0, ...options };
  const t = await makeTestDevice(pwmKind, { options: real, sysfs: sim.tree });
  return { ...t, ...sim, ch: sim.chip.channels[0]! };
}

/** A channel already exported and running, as another program or an earlier run left it. */
const running = (periodNs: number, dutyNs: number) => async (sim: ReturnType<typeof simChip>) => {
  await sim.tree.write('class/pwm/pwmchip0/export', '0');
  await sim.tree.write(`${DIR}/period`, String(periodNs));
  await sim.tree.write(`${DIR}/duty_cycle`, String(dutyNs));
  await sim.tree.write(`${DIR}/enable`, '1');
};

describe('pwm: set', () => {
  it('takes every form: ON (full the first time), a plain number or numeric text as a percentage, {percent}, {dutyNs}, HA’s {state, brightness}', async () => {
    const t = await pwm();
    await t.device.open();
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON', percent: 100, dutyNs: 1_000_000 });
    await expect(t.run('set', { value: '42' })).resolves.toMatchObject({ percent: 42, dutyNs: 420_000, brightness: 42 });
    await expect(t.run('set', { value: 12.5 })).resolves.toMatchObject({ percent: 12.5, dutyNs: 125_000, brightness: 13 });
    await expect(t.run('set', { percent: 80 })).resolves.toMatchObject({ dutyNs: 800_000 });
    await expect(t.run('set', { dutyNs: 100_000 })).resolves.toMatchObject({ percent: 10 });
    await expect(t.run('set', { state: 'ON', brightness: 40 })).resolves.toMatchObject({ state: 'ON', percent: 40 });
    await expect(t.run('set', { state: 'OFF' })).resolves.toMatchObject({ state: 'OFF', dutyNs: 0, enabled: true });
    await expect(t.run('set', { value: true })).resolves.toMatchObject({ state: 'ON', percent: 40 });
    await expect(t.run('set', { value: 'off' })).resolves.toMatchObject({ state: 'OFF' });
    expect(t.ch).toMatchObject({ periodNs: 1_000_000, dutyNs: 0, enabled: true });
  });

  it('ON goes back to the last level, after OFF and after off (which also disables the output)', async () => {
    const t = await pwm();
    await t.device.open();
    await t.run('set', { value: 30 });
    await t.run('set', { value: 'OFF' });
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ percent: 30 });
    await expect(t.run('off')).resolves.toMatchObject({ state: 'OFF', enabled: false, dutyNs: 0 });
    expect(t.ch.enabled).toBe(false);
    await expect(t.run('set', { state: 'ON' })).resolves.toMatchObject({ state: 'ON', percent: 30, enabled: true });
  });

  it('refuses what it cannot do with bad_args, before the kernel would say EINVAL', async () => {
    const t = await pwm({ periodNs: 1_000_000 });
    await t.device.open();
    expect(await failure(t.run('set', { value: 'dim' }))).toMatchObject({ code: 'bad_args' });
    expect(await failure(t.run('set', { value: 101 }))).toMatchObject({ code: 'bad_args' });
    expect(await failure(t.run('set', { dutyNs: 1_000_001 }))).toMatchObject({ code: 'bad_args', periodNs: 1_000_000 });
    expect(await failure(t.run('set', { percent: 50, dutyNs: 1 }))).toMatchObject({ code: 'bad_args' });
    expect(await failure(t.run('set', {}))).toMatchObject({ code: 'bad_args' });
    await expect(t.run('set', { percent: 150 })).rejects.toThrow(/percent must be <= 100/);
    expect(t.ch.applied).toBe(1);
  });

  it('a write the kernel refuses is device_error with the errno and the path', async () => {
    const t = await pwm();
    await t.device.open();
    t.tree.deny(`${DIR}/duty_cycle`, 'EIO');
    expect(await failure(t.run('set', { value: 20 }))).toMatchObject({
      code: 'device_error',
      errno: 'EIO',
      path: '/sys/class/pwm/pwmchip0/pwm0/duty_cycle',
    });
    expect(t.recorded.lost).toHaveLength(1);
  });
});

describe('pwm: fades', () => {
  it('walk the duty cycle up in steps on timers, the event loop turning between them, and land exactly', async () => {
    const t = await pwm({ fadeStepMs: 10 });
    await t.device.open();
    const duties: number[] = [];
    const write = t.tree.write.bind(t.tree);
    vi.spyOn(t.tree, 'write').mockImplementation(async (rel, value) => {
      if (rel.endsWith('duty_cycle')) duties.push(Number(value));
      return write(rel, value);
    });
    const { value, turns } = await turnsDuring(t.run('fade', { toPercent: 100, ms: 200 }));
    expect(value).toMatchObject({ state: 'ON', percent: 100 });
    expect(duties.at(-1)).toBe(1_000_000);
    expect(duties.length).toBeGreaterThanOrEqual(1);
    expect(duties.length).toBeLessThanOrEqual(20);
    expect([...duties].sort((a, b) => a - b)).toEqual(duties);
    // Each step waits on a timer, so the loop turns at least once between two steps (not before the first
    // one or after the last, which a loaded machine may squeeze out).
    expect(turns).toBeGreaterThanOrEqual(duties.length - 1);
  });

  it('stop where they are when aborted (the command’s timeout, a shutdown): canceled, with the state it reached', async () => {
    const t = await pwm({ fadeStepMs: 10 });
    await t.device.open();
    const abort = new AbortController();
    const write = t.tree.write.bind(t.tree);
    vi.spyOn(t.tree, 'write').mockImplementation(async (rel, value) => {
      await write(rel, value);
      if (rel.endsWith('duty_cycle') && Number(value) > 0) abort.abort();
    });
    const err = await failure(t.run('fade', { toPercent: 100, ms: 60_000 }, { signal: abort.signal }));
    expect(err.code).toBe('canceled');
    const s = t.device.state();
    expect(s.percent).toBeGreaterThan(0);
    expect(s.percent).toBeLessThan(100);
    expect(t.ch.dutyNs).toBe(s.dutyNs);
  });

  it('HA’s transition fades; a fade to 0 keeps the output enabled at duty 0', async () => {
    const t = await pwm({ fadeStepMs: 10 });
    await t.device.open();
    await expect(t.run('set', { state: 'ON', brightness: 60, transition: 0.05 })).resolves.toMatchObject({ percent: 60 });
    expect(t.ch.applied).toBeGreaterThan(2);
    await expect(t.run('set', { state: 'OFF', transition: 0.05 })).resolves.toMatchObject({ state: 'OFF', enabled: true, dutyNs: 0 });
    await expect(t.run('fade', { toPercent: 25, ms: 0 })).resolves.toMatchObject({ percent: 25 });
  });
});

describe('pwm: open', () => {
  it('leaves a running output running: the configured period is applied keeping the share of it, duty first when it must', async () => {
    const t = await pwm({ periodNs: 1_000_000 }, running(2_000_000, 1_500_000));
    await t.device.open();
    expect(t.ch).toMatchObject({ periodNs: 1_000_000, dutyNs: 750_000, enabled: true });
    expect(t.device.state()).toMatchObject({ state: 'ON', percent: 75, frequencyHz: 1000 });
    // And ON goes back to what it found.
    await t.run('set', { value: 'OFF' });
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ percent: 75 });
  });

  it('applies the configured polarity; a chip that cannot invert refuses (EINVAL) and the device stays closed', async () => {
    const t = await pwm({ polarity: 'inversed' }, running(1_000_000, 200_000));
    await t.device.open();
    expect(t.ch).toMatchObject({ polarity: 'inversed', enabled: true, dutyNs: 200_000 });
    const plain = await pwm({ polarity: 'inversed', simInversed: false });
    await expect(plain.device.open()).rejects.toMatchObject({ code: 'EINVAL', path: '/sys/class/pwm/pwmchip0/pwm0/polarity' });
  });

  it('a channel a kernel driver holds: EBUSY, saying so', async () => {
    const t = await pwm();
    t.chip.claim(0, 'pwm-fan');
    const e = await t.device.open().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'EBUSY' });
    expect((e as Error).message).toContain('held by a kernel driver');
  });

  it('waits for udev to hand over the exported files (EACCES meanwhile), and gives up after exportTimeoutMs', async () => {
    const t = await pwm({ exportTimeoutMs: 5000 });
    t.tree.deny(`${DIR}/period`, 'EACCES');
    const write = t.tree.write.bind(t.tree);
    vi.spyOn(t.tree, 'write').mockImplementation(async (rel, value) => {
      await write(rel, value);
      // udev's rule runs a moment after the kernel's uevent.
      if (rel.endsWith('/export')) setTimeout(() => t.tree.deny(`${DIR}/period`, undefined), 30);
    });
    await t.device.open();
    expect(t.ch.exported).toBe(true);

    const never = await pwm({ exportTimeoutMs: 30 });
    never.tree.deny(`${DIR}/period`, 'EACCES');
    await expect(never.device.open()).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('names the channels a chip has when the configured one is past them; finds a chip by its device name', async () => {
    const t = await pwm({ channel: 0, simChannels: 2 });
    const far = await makeTestDevice(pwmKind, { options: { chip: 'pwmchip0', channel: 5, periodNs: 1000 }, sysfs: t.tree });
    await expect(far.device.open()).rejects.toThrow('pwmchip0 has 2 channel(s), 0…1: there is no channel 5');
    const byName = await pwm({ chip: 'fe20c000.pwm' });
    await byName.device.open();
    expect(byName.device.state()).toMatchObject({ chip: 'pwmchip0' });
    const none = await makeTestDevice(pwmKind, { options: { chip: '1f00098000.pwm', channel: 0, periodNs: 1000 }, sysfs: t.tree });
    await expect(none.device.open()).rejects.toThrow("no PWM chip's device is named '1f00098000.pwm'; found pwmchip0 (fe20c000.pwm)");
  });
});

describe('pwm: the channel goes away', () => {
  it('unexported behind its back: ENOENT, reported lost; a reopen exports it again', async () => {
    const t = await pwm();
    await t.device.open();
    await t.run('set', { value: 50 });
    await t.tree.write('class/pwm/pwmchip0/unexport', '0');
    expect(await failure(t.run('get'))).toMatchObject({ code: 'device_error', errno: 'ENOENT' });
    expect(t.recorded.lost).toHaveLength(1);
    await t.device.close();
    await t.device.open();
    expect(t.device.state()).toMatchObject({ state: 'ON', percent: 50 });
  });

  it('the chip unplugged: commands fail with ENOENT; open fails until it is back', async () => {
    const t = await pwm();
    await t.device.open();
    t.tree.unplug('class/pwm/pwmchip0');
    expect(await failure(t.run('set', { value: 10 }))).toMatchObject({ errno: 'ENOENT' });
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'ENOENT' });
    t.tree.replug('class/pwm/pwmchip0');
    await t.device.open();
  });

  it('polls: a change behind its back is noticed and published', async () => {
    const t = await pwm({ pollMs: 10 });
    await t.device.open();
    const before = t.recorded.stateChanges;
    await t.tree.write(`${DIR}/duty_cycle`, '330000');
    await t.tree.write(`${DIR}/enable`, '1');
    await vi.waitFor(() => expect(t.device.state()).toMatchObject({ percent: 33, state: 'ON' }), { timeout: 10_000, interval: 10 });
    expect(t.recorded.stateChanges).toBeGreaterThan(before);
  });
});
