/**
 * `led` with `sim: true`: the model keeps a sysfs-like tree under the state
 * dir and answers as the LED class driver does; the kind runs unchanged on it.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ledKind } from '../../../src/devices/led/kind.js';
import type { SimLed } from '../../../src/devices/led/sim.js';
import { declarationOf, type HaTopics } from '../../../src/homeassistant/entities.js';
import { failure } from '../../helpers/command-error.js';
import { makeTestDevice } from '../../helpers/device-context.js';

async function simLed(options: Record<string, unknown> = {}, stateDir?: string) {
  const t = makeTestDevice(ledKind, { sim: true, options: { pollMs: 0, ...options }, ...(stateDir ? { stateDir } : {}) });
  await t.device.open();
  const sim = t.device.files as SimLed;
  const file = (attr: string): string => readFileSync(path.join(sim.dir, attr), 'utf8');
  return { ...t, sim, file };
}

describe('led sim: the model behaves as the LED class driver', () => {
  it('keeps a sysfs-like tree under the state dir, dark and without a trigger at first', async () => {
    const t = await simLed();
    expect(t.sim.dir).toBe(path.join(t.ctx.stateDir, 'sys', 'class', 'leds', 'led0'));
    expect(t.file('brightness')).toBe('0\n');
    expect(t.file('max_brightness')).toBe('255\n');
    expect(t.file('trigger')).toBe('[none] timer oneshot heartbeat backlight default-on panic\n');
    expect(t.device.state()).toMatchObject({ state: 'OFF', brightness: 0, maxBrightness: 255, trigger: 'none' });
  });

  it('set ON lights it at max_brightness, a number sets that level, OFF darkens it', async () => {
    const t = await simLed({ maxBrightness: 100 });
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON', brightness: 100 });
    await expect(t.run('set', { value: 42 })).resolves.toMatchObject({ brightness: 42 });
    await expect(t.run('set', { state: 'ON', brightness: 1000 })).resolves.toMatchObject({ brightness: 100 });
    await expect(t.run('set', { value: 'off' })).resolves.toMatchObject({ state: 'OFF', brightness: 0 });
    expect(t.file('brightness')).toBe('0\n');
    expect(t.recorded.stateChanges).toBeGreaterThanOrEqual(4);
  });

  it('blink selects timer, whose delay_on/delay_off appear with it and go with it', async () => {
    const t = await simLed();
    expect(existsSync(path.join(t.sim.dir, 'delay_on'))).toBe(false);
    const s = await t.run('blink', { onMs: 100, offMs: 400 });
    expect(s).toMatchObject({ state: 'ON', trigger: 'timer', delayOnMs: 100, delayOffMs: 400, brightness: 255 });
    expect(t.file('trigger')).toContain('[timer]');
    expect(t.file('delay_on')).toBe('100\n');
    expect(t.file('delay_off')).toBe('400\n');
    // A second blink changes the delays without leaving and re-entering timer.
    await expect(t.run('blink', { onMs: 50, offMs: 50 })).resolves.toMatchObject({ delayOnMs: 50, delayOffMs: 50 });
    await expect(t.run('trigger', { name: 'none' })).resolves.toMatchObject({ trigger: 'none', state: 'OFF', brightness: 0 });
    expect(existsSync(path.join(t.sim.dir, 'delay_on'))).toBe(false);
    expect(t.device.state()).not.toHaveProperty('delayOnMs');
  });

  it('brightness 0 removes the trigger, as brightness_store does; default-on lights it', async () => {
    const t = await simLed();
    await t.run('blink', {});
    await expect(t.run('set', { value: 0 })).resolves.toMatchObject({ trigger: 'none', brightness: 0, state: 'OFF' });
    await expect(t.run('trigger', { value: 'default-on' })).resolves.toMatchObject({ trigger: 'default-on', brightness: 255 });
    // Plain ON means steady on: the trigger is dropped, the level stays at max.
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ trigger: 'none', brightness: 255 });
  });

  it('an effect from Home Assistant selects that trigger; a trigger it lacks is bad_args listing the valid ones', async () => {
    const t = await simLed({ triggers: ['none', 'heartbeat'] });
    await expect(t.run('set', { state: 'ON', effect: 'heartbeat' })).resolves.toMatchObject({ effect: 'heartbeat', state: 'ON' });
    const bad = await failure(t.run('trigger', { name: 'timer' }));
    expect(bad).toMatchObject({ code: 'bad_args', valid: ['none', 'heartbeat'] });
    const noTimer = await failure(t.run('blink', {}));
    expect(noTimer.code).toBe('device_error');
    expect(noTimer.message).toContain('no timer trigger');
  });

  it('a write the kernel refuses (EACCES, EINVAL) is device_error with the errno, and the LED is reported lost', async () => {
    const t = await simLed();
    t.sim.deny('brightness', 'EACCES');
    expect(await failure(t.run('set', { value: 'ON' }))).toMatchObject({
      code: 'device_error',
      errno: 'EACCES',
      path: path.join(t.sim.dir, 'brightness'),
    });
    expect(t.recorded.lost).toHaveLength(1);
    // While the kernel refuses, open() fails, so the agent keeps it offline; once allowed it reopens.
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'EACCES' });
    t.sim.deny('brightness', undefined);
    await t.device.open();

    t.sim.deny('trigger', 'EINVAL');
    expect(await failure(t.run('trigger', { name: 'heartbeat' }))).toMatchObject({ code: 'device_error', errno: 'EINVAL' });
    expect(t.recorded.lost).toHaveLength(2);
  });

  it('max_brightness is read-only: writing it is EACCES, as for a 0444 sysfs attribute', async () => {
    const t = await simLed();
    await expect(t.sim.write('max_brightness', '9')).rejects.toMatchObject({ code: 'EACCES' });
    await expect(t.sim.write('brightness', 'bright')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(t.sim.write('delay_on', '10')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an unplugged LED: commands fail with ENOENT and report it lost; open() fails until it is back', async () => {
    const t = await simLed();
    await t.run('set', { value: 77 });
    t.sim.unplug();
    expect(await failure(t.run('get'))).toMatchObject({ code: 'device_error', errno: 'ENOENT' });
    expect(t.recorded.lost).toHaveLength(1);
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'ENOENT' });
    t.sim.replug();
    await t.device.open();
    expect(t.device.state()).toMatchObject({ brightness: 77 });
  });

  it('keeps its state across restarts, as a real LED does', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-led-keep-'));
    const first = await simLed({}, stateDir);
    await first.run('blink', { onMs: 30, offMs: 70 });
    await first.device.close();
    const second = await simLed({}, stateDir);
    expect(second.device.state()).toMatchObject({ trigger: 'timer', delayOnMs: 30, delayOffMs: 70 });
  });

  it('polls: a change behind its back is noticed and published', async () => {
    const t = makeTestDevice(ledKind, { sim: true, options: { pollMs: 10 } });
    await t.device.open();
    const before = t.recorded.stateChanges;
    await (t.device.files as SimLed).write('brightness', '5');
    await vi.waitFor(() => expect(t.device.state()).toMatchObject({ brightness: 5 }), { timeout: 10_000, interval: 10 });
    expect(t.recorded.stateChanges).toBe(before + 1);
    await t.device.close();
  });
});

describe('led: Home Assistant', () => {
  const topics: HaTopics = {
    state: 'dev2mqtt/pi/led0/state',
    event: 'dev2mqtt/pi/led0/event',
    availability: 'dev2mqtt/pi/led0/availability',
    command: (name) => `dev2mqtt/pi/led0/cmd/${name}`,
  };

  it('is a JSON-schema light with brightness on its scale and the triggers as effects', () => {
    const [light, ...rest] = declarationOf(
      ledKind.homeassistant!({
        id: 'led0',
        name: 'led0',
        sim: true,
        topics,
        options: { name: 'led0', sysfsRoot: '/sys', pollMs: 0, maxBrightness: 100 },
        state: undefined,
      }),
    ).entities;
    expect(rest).toEqual([]);
    expect(light).toMatchObject({
      component: 'light',
      name: null,
      config: {
        schema: 'json',
        state_topic: 'dev2mqtt/pi/led0/state',
        command_topic: 'dev2mqtt/pi/led0/cmd/set',
        brightness: true,
        brightness_scale: 100,
        supported_color_modes: ['brightness'],
        effect: true,
        effect_list: ['none', 'timer', 'oneshot', 'heartbeat', 'backlight', 'default-on', 'panic'],
      },
    });
  });

  it("once read, takes its effects and scale from the kernel's LED, not from the config", () => {
    const real = (state: Record<string, unknown> | undefined, effects?: string[]) =>
      declarationOf(
        ledKind.homeassistant!({
          id: 'act',
          name: 'ACT',
          sim: false,
          topics,
          options: { name: 'ACT', sysfsRoot: '/sys', pollMs: 0, maxBrightness: 255, ...(effects ? { effects } : {}) },
          state,
        }),
      ).entities[0]?.config;
    // Not read yet: the config's scale and the defaults.
    expect(real(undefined)).toMatchObject({ brightness_scale: 255, effect_list: ['none', 'timer', 'heartbeat', 'default-on'] });
    // A Pi's ACT LED as read: max_brightness 1, the mmc0 and actpwr triggers among the rest.
    const read = { state: 'ON', brightness: 1, maxBrightness: 1, trigger: 'mmc0', triggers: ['none', 'timer', 'mmc0', 'actpwr'] };
    expect(real(read)).toMatchObject({ brightness_scale: 1, effect_list: ['none', 'timer', 'mmc0', 'actpwr'] });
    // A list in the config narrows it; a trigger this LED lacks is left out.
    expect(real(read, ['none', 'mmc0'])).toMatchObject({ effect_list: ['none', 'mmc0'] });
    expect(real(read, ['mmc0', 'rainbow'])).toMatchObject({ effect_list: ['mmc0'] });
    expect(real(undefined, ['mmc0', 'rainbow'])).toMatchObject({ effect_list: ['mmc0', 'rainbow'] });
  });

  it('the state it publishes carries what the JSON light reads: state, brightness, effect', async () => {
    const t = await simLed();
    await t.run('set', { state: 'ON', effect: 'heartbeat' });
    expect(t.device.state()).toMatchObject({ state: 'ON', effect: 'heartbeat', brightness: 255 });
  });
});
