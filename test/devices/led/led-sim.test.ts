/**
 * `led` with `sim: true`: the LED class model on the sim sysfs answers as the
 * driver does, and the kind runs on it unchanged. What the kernel shows is
 * read back through the tree, as `cat /sys/class/leds/led0/…` would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ledKind } from '../../../src/devices/led/kind.js';
import type { HaTopics } from '../../../src/homeassistant/entities.js';
import type { SimSysfs } from '../../../src/kernel/sysfs-sim.js';
import { failure } from '../../helpers/command-error.js';
import { makeTestDevice } from '../../helpers/device-context.js';

const temps: string[] = [];
afterAll(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

function stateDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-led-sim-'));
  temps.push(d);
  return d;
}

async function simLed(options: Record<string, unknown> = {}, dir = stateDir()) {
  const t = await makeTestDevice(ledKind, { sim: true, options: { pollMs: 0, ...options }, stateDir: dir });
  await t.device.open();
  const led = t.device;
  const tree = led.sysfs as SimSysfs;
  const attr = async (name: string): Promise<string> => tree.read(`${led.dir}/${name}`);
  return { ...t, tree, led, attr };
}

describe('led sim: the LED class model', () => {
  it('is one LED at class/leds/NAME, a link into devices/platform/leds, dark and without a trigger at first', async () => {
    const t = await simLed();
    expect(await t.tree.realpath('class/leds/led0')).toBe('/sys/devices/platform/leds/leds/led0');
    expect(await t.attr('brightness')).toBe('0\n');
    expect(await t.attr('max_brightness')).toBe('255\n');
    expect(await t.attr('trigger')).toBe('[none] timer oneshot heartbeat backlight default-on panic\n');
    expect(t.device.state()).toMatchObject({ state: 'OFF', brightness: 0, maxBrightness: 255, trigger: 'none' });
  });

  it('set ON lights it at max_brightness, a number sets that level, OFF darkens it', async () => {
    const t = await simLed({ maxBrightness: 100 });
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ state: 'ON', brightness: 100 });
    await expect(t.run('set', { value: 42 })).resolves.toMatchObject({ brightness: 42 });
    await expect(t.run('set', { state: 'ON', brightness: 1000 })).resolves.toMatchObject({ brightness: 100 });
    await expect(t.run('set', { value: 'off' })).resolves.toMatchObject({ state: 'OFF', brightness: 0 });
    expect(await t.attr('brightness')).toBe('0\n');
    expect(t.recorded.stateChanges).toBeGreaterThanOrEqual(4);
  });

  it('blink selects timer, whose delay_on/delay_off appear with it and go with it', async () => {
    const t = await simLed();
    expect(await t.tree.exists(`${t.led.dir}/delay_on`)).toBe(false);
    const s = await t.run('blink', { onMs: 100, offMs: 400 });
    expect(s).toMatchObject({ state: 'ON', trigger: 'timer', delayOnMs: 100, delayOffMs: 400, brightness: 255 });
    expect(await t.attr('trigger')).toContain('[timer]');
    expect(await t.attr('delay_on')).toBe('100\n');
    expect(await t.attr('delay_off')).toBe('400\n');
    // A second blink changes the delays without leaving and re-entering timer.
    await expect(t.run('blink', { onMs: 50, offMs: 50 })).resolves.toMatchObject({ delayOnMs: 50, delayOffMs: 50 });
    await expect(t.run('trigger', { name: 'none' })).resolves.toMatchObject({ trigger: 'none', state: 'OFF', brightness: 0 });
    expect(await t.tree.exists(`${t.led.dir}/delay_on`)).toBe(false);
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
    t.tree.deny(`${t.led.dir}/brightness`, 'EACCES');
    expect(await failure(t.run('set', { value: 'ON' }))).toMatchObject({
      code: 'device_error',
      errno: 'EACCES',
      path: '/sys/class/leds/led0/brightness',
    });
    expect(t.recorded.lost).toHaveLength(1);
    // While the kernel refuses, open() fails, so the agent keeps it offline; once allowed it reopens.
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'EACCES' });
    t.tree.deny(`${t.led.dir}/brightness`, undefined);
    await t.device.open();

    t.tree.deny(`${t.led.dir}/trigger`, 'EINVAL');
    expect(await failure(t.run('trigger', { name: 'heartbeat' }))).toMatchObject({ code: 'device_error', errno: 'EINVAL' });
    expect(t.recorded.lost).toHaveLength(2);
  });

  it('kernfs and the driver refuse what they refuse: max_brightness is read-only, junk is EINVAL, delay_on only with timer', async () => {
    const t = await simLed();
    await expect(t.tree.write(`${t.led.dir}/max_brightness`, '9')).rejects.toMatchObject({ code: 'EACCES', syscall: 'open' });
    await expect(t.tree.write(`${t.led.dir}/brightness`, 'bright')).rejects.toMatchObject({ code: 'EINVAL', syscall: 'write' });
    await expect(t.tree.write(`${t.led.dir}/brightness`, '-1')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(t.tree.write(`${t.led.dir}/trigger`, 'rainbow')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(t.tree.write(`${t.led.dir}/delay_on`, '10')).rejects.toMatchObject({ code: 'ENOENT' });
    // What `echo` writes (a trailing newline) is read as the kernel reads it.
    await t.tree.write(`${t.led.dir}/trigger`, 'timer\n');
    await t.tree.write(`${t.led.dir}/delay_on`, '10\n');
    expect(await t.attr('delay_on')).toBe('10\n');
  });

  it('an unplugged LED: commands fail with ENOENT and report it lost; open() fails until it is back', async () => {
    const t = await simLed();
    await t.run('set', { value: 77 });
    t.tree.unplug(t.led.dir);
    expect(await failure(t.run('get'))).toMatchObject({ code: 'device_error', errno: 'ENOENT' });
    expect(t.recorded.lost).toHaveLength(1);
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'ENOENT' });
    t.tree.replug(t.led.dir);
    await t.device.open();
    expect(t.device.state()).toMatchObject({ brightness: 77 });
  });

  it('an LED that goes away while a read is in flight: ENODEV, as kernfs answers, and it is reported lost', async () => {
    const t = await simLed();
    const reading = failure(t.run('get'));
    t.tree.remove(t.led.dir);
    expect(await reading).toMatchObject({ code: 'device_error', errno: 'ENODEV' });
    expect(t.recorded.lost).toHaveLength(1);
  });

  it('keeps its state across agent restarts (saved once when the agent stops, not per command)', async () => {
    const dir = stateDir();
    const first = await simLed({}, dir);
    await first.run('blink', { onMs: 30, offMs: 70 });
    await first.device.close();
    first.abort.abort();
    const second = await simLed({}, dir);
    expect(second.device.state()).toMatchObject({ trigger: 'timer', delayOnMs: 30, delayOffMs: 70 });
  });

  it('polls: a change behind its back is noticed and published', async () => {
    const t = await makeTestDevice(ledKind, { sim: true, options: { pollMs: 10 }, stateDir: stateDir() });
    await t.device.open();
    const before = t.recorded.stateChanges;
    const led = t.device;
    await led.sysfs.write(`${led.dir}/brightness`, '5');
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
    const [light, ...rest] =
      ledKind.homeassistant?.({
        id: 'led0',
        name: 'led0',
        sim: true,
        topics,
        options: { name: 'led0', sysfsRoot: '/sys', pollMs: 0, maxBrightness: 100 },
      }) ?? [];
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
    const real = ledKind.homeassistant?.({
      id: 'act',
      name: 'ACT',
      sim: false,
      topics,
      options: { name: 'ACT', sysfsRoot: '/sys', pollMs: 0, effects: ['none', 'mmc0'] },
    });
    expect(real?.[0]?.config).toMatchObject({ brightness_scale: 255, effect_list: ['none', 'mmc0'] });
  });

  it('the state it publishes carries what the JSON light reads: state, brightness, effect', async () => {
    const t = await simLed();
    await t.run('set', { state: 'ON', effect: 'heartbeat' });
    expect(t.device.state()).toMatchObject({ state: 'ON', effect: 'heartbeat', brightness: 255 });
  });
});
