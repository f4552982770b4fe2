/**
 * The `gpio` kind on the gpiochip model (sim: true): the same code that runs
 * on a Raspberry Pi, with the model standing in for gpiolib-cdev.
 */
import { describe, expect, it, vi } from 'vitest';
import { gpioKind } from '../../../src/devices/gpio/kind.js';
import { SimGpioKernel } from '../../../src/devices/gpio/sim-kernel.js';
import type { SimGpioChip } from '../../../src/devices/gpio/sim-chip.js';
import { FLAG, lineInfo } from '../../../src/devices/gpio/uapi.js';
import { O } from '../../../src/kernel/kernel.js';
import type { HaTopics } from '../../../src/homeassistant/entities.js';
import { failure } from '../../helpers/command-error.js';
import { makeTestDevice } from '../../helpers/device-context.js';

async function sim(options: Record<string, unknown>, kernel?: SimGpioKernel) {
  const t = await makeTestDevice(gpioKind, { sim: true, options: { pollMs: 0, ...options }, ...(kernel ? { kernel } : {}) });
  const k = t.ctx.kernel as SimGpioKernel;
  const chip = k.chip('/dev/gpiochip0') as SimGpioChip;
  const info = (offset: number) => {
    const f = k.open('/dev/gpiochip0', O.RDWR);
    try {
      return lineInfo(f, k.arch, offset);
    } finally {
      f.close();
    }
  };
  return { ...t, kernel: k, chip, info };
}

describe('gpio on the gpiochip model', () => {
  it('requests the line with the consumer label dev2mqtt and releases it on close', async () => {
    const t = await sim({ line: 17, direction: 'out' });
    await t.device.open();
    expect(t.info(17)).toMatchObject({ consumer: 'dev2mqtt', name: 'GPIO17' });
    expect(t.info(17).flags & (FLAG.USED | FLAG.OUTPUT)).toBe(FLAG.USED | FLAG.OUTPUT);
    expect(t.device.state()).toMatchObject({
      value: 0,
      state: 'OFF',
      direction: 'out',
      interface: 'cdev',
      chip: '/dev/gpiochip0',
      chipLabel: 'dev2mqtt-sim',
      line: 17,
      lineName: 'GPIO17',
    });
    await t.device.close();
    expect(t.info(17)).toMatchObject({ consumer: '' });
    expect(t.info(17).flags & FLAG.USED).toBe(0);
  });

  it('set and get: ON/OFF in any case, 1/0, true/false, {state}; the pin follows', async () => {
    const t = await sim({ line: 'GPIO5', direction: 'out' });
    await t.device.open();
    await expect(t.run('set', { value: 'ON' })).resolves.toMatchObject({ value: 1, state: 'ON' });
    expect(t.chip.level(5)).toBe(1);
    await expect(t.run('set', { value: 'off' })).resolves.toMatchObject({ value: 0 });
    await expect(t.run('set', { value: 1 })).resolves.toMatchObject({ value: 1 });
    await expect(t.run('set', { value: false })).resolves.toMatchObject({ value: 0 });
    await expect(t.run('set', { state: 'on' })).resolves.toMatchObject({ value: 1 });
    await expect(t.run('get')).resolves.toMatchObject({ value: 1 });
    expect(await failure(t.run('set', { value: 'maybe' }))).toMatchObject({ code: 'bad_args' });
    expect(await failure(t.run('set', {}))).toMatchObject({ code: 'bad_args' });
  });

  it('active-low: logical 1 drives the pin low, and a low input reads 1', async () => {
    const k = new SimGpioKernel([{ path: '/dev/gpiochip0', name: 'gpiochip0', label: 'x', lineNames: ['a', 'b', 'c'] }]);
    const out = await sim({ line: 0, direction: 'out', activeLow: true, initial: 'ON' }, k);
    await out.device.open();
    expect(out.device.state()).toMatchObject({ value: 1, activeLow: true });
    expect(out.chip.level(0)).toBe(0);
    await out.run('set', { value: 'OFF' });
    expect(out.chip.level(0)).toBe(1);

    const inp = await sim({ line: 'b', activeLow: true }, k);
    out.chip.drive(1, 0);
    await inp.device.open();
    await expect(inp.run('get')).resolves.toMatchObject({ value: 1 });
    out.chip.drive(1, 1);
    await expect(inp.run('get')).resolves.toMatchObject({ value: 0 });
  });

  it('a second request of a held line is EBUSY; once released it can be had', async () => {
    const k = new SimGpioKernel([{ path: '/dev/gpiochip0', name: 'gpiochip0', label: 'x', lineNames: ['a', 'b'] }]);
    const first = await sim({ line: 1 }, k);
    const second = await sim({ line: 1 }, k);
    await first.device.open();
    await expect(second.device.open()).rejects.toMatchObject({ code: 'EBUSY', request: 'GPIO_V2_GET_LINE_IOCTL' });
    await first.device.close();
    await second.device.open();
    expect(second.info(1).consumer).toBe('dev2mqtt');
  });

  it('edges: each is an event with the kernel timestamp and sequence numbers, and the state follows', async () => {
    const t = await sim({ line: 4, edge: 'both', bias: 'pull-up' });
    await t.device.open();
    expect(t.device.state()).toMatchObject({ value: 1, edges: 0, lastEdge: null });
    const changesBefore = t.recorded.stateChanges;
    t.chip.drive(4, 0);
    t.chip.drive(4, 1);
    t.chip.drive(4, 0);
    await vi.waitFor(() => expect(t.recorded.events).toHaveLength(3), { timeout: 10_000 });
    const [a, b, c] = t.recorded.events;
    expect([a, b, c].map((e) => [e?.type, e?.edge, e?.value, e?.seqno, e?.lineSeqno])).toEqual([
      ['edge', 'falling', 0, 1, 1],
      ['edge', 'rising', 1, 2, 2],
      ['edge', 'falling', 0, 3, 3],
    ]);
    const stamps = [a, b, c].map((e) => BigInt(String(e?.timestampNs)));
    expect(stamps.every((ns, i) => ns > 0n && (i === 0 || ns >= (stamps[i - 1] ?? 0n)))).toBe(true);
    expect(t.device.state()).toMatchObject({ value: 0, edges: 3, lastEdge: { edge: 'falling', seqno: 3 } });
    expect(t.recorded.stateChanges).toBeGreaterThan(changesBefore);
  });

  it('a rising-only input with debounce reports one edge for a bouncing press', async () => {
    const t = await sim({ line: 6, edge: 'rising', debounceMs: 5 });
    await t.device.open();
    expect(t.info(6).debounceUs).toBe(5000);
    for (const level of [1, 0, 1, 0, 1] as const) t.chip.drive(6, level);
    await vi.waitFor(() => expect(t.recorded.events).toHaveLength(1), { timeout: 10_000 });
    expect(t.recorded.events[0]).toMatchObject({ edge: 'rising', seqno: 1 });
    await expect(t.run('get')).resolves.toMatchObject({ value: 1 });
  });

  it('pulse drives the line for ms and restores it; aborted midway (a timeout), it still restores', async () => {
    const t = await sim({ line: 2, direction: 'out' });
    await t.device.open();
    await expect(t.run('pulse', { ms: 5 })).resolves.toMatchObject({ value: 0, pulsedMs: 5 });
    expect(t.recorded.stateChanges).toBeGreaterThanOrEqual(3);

    await t.run('set', { value: 'ON' });
    const abort = new AbortController();
    const pulsing = t.run('pulse', { ms: 60_000, value: 0 }, { signal: abort.signal });
    await vi.waitFor(() => expect(t.chip.level(2)).toBe(0), { timeout: 10_000 });
    abort.abort(new Error('timeout'));
    await expect(pulsing).rejects.toThrow();
    expect(t.chip.level(2)).toBe(1);
    expect(t.device.state()).toMatchObject({ value: 1 });
  });

  it('set and pulse on an input are bad_args; options the kernel would refuse are refused up front', async () => {
    const t = await sim({ line: 3 });
    await t.device.open();
    expect(await failure(t.run('set', { value: 'ON' }))).toMatchObject({ code: 'bad_args' });
    expect(await failure(t.run('pulse', { ms: 10 }))).toMatchObject({ code: 'bad_args' });
    const bad = (o: Record<string, unknown>) => gpioKind.options(true).parse({ line: 1, ...o });
    expect(bad({ direction: 'out', edge: 'both' })).toMatchObject({ ok: false });
    expect(bad({ drive: 'open-drain' })).toMatchObject({ ok: false });
    expect(bad({ interface: 'sysfs' })).toMatchObject({ ok: false });
    expect(gpioKind.options(false).parse({ line: 'GPIO17', interface: 'sysfs' })).toMatchObject({ ok: false });
    expect(gpioKind.options(false).parse({})).toMatchObject({ ok: false });
  });

  it('finds the line by name and the chip by label; an unknown name says what exists', async () => {
    const t = await sim({ chip: 'pinctrl-rp1', line: 'GPIO26' });
    await t.device.open();
    expect(t.device.state()).toMatchObject({ chip: '/dev/gpiochip0', chipLabel: 'pinctrl-rp1', line: 26 });
    const missing = await sim({ line: 'NOPE' });
    await expect(missing.device.open()).rejects.toThrow("has no line named 'NOPE'");
    const far = await sim({ line: 99 });
    await expect(far.device.open()).rejects.toThrow('has 54 lines');
  });

  it('a chip that goes away: the input is reported lost, commands fail with ENODEV', async () => {
    const t = await sim({ line: 8, edge: 'both' });
    await t.device.open();
    t.chip.unplug();
    await vi.waitFor(() => expect(t.recorded.lost).toHaveLength(1), { timeout: 10_000 });
    expect(t.recorded.lost[0]).toMatchObject({ code: 'ENODEV' });
    expect(await failure(t.run('get'))).toMatchObject({ code: 'device_error', errno: 'ENODEV' });
    await t.device.close();
    await expect(t.device.open()).rejects.toMatchObject({ code: 'ENOENT' });
    t.chip.replug();
    await t.device.open();
  });

  it('simToggleMs: the demo button flips on its own and its edges arrive as events', async () => {
    const t = await sim({ line: 22, edge: 'both', simToggleMs: 5 });
    await t.device.open();
    await vi.waitFor(() => expect(t.recorded.events.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(t.recorded.events.slice(0, 2).map((e) => e.edge)).toEqual(['rising', 'falling']);
    await t.device.close();
    const seen = t.recorded.events.length;
    expect(t.info(22).flags & FLAG.USED).toBe(0);
    t.chip.toggle(22);
    expect(t.recorded.events).toHaveLength(seen);
  });

  it('an input without edges is re-read every pollMs', async () => {
    const t = await sim({ line: 9, pollMs: 5 });
    await t.device.open();
    expect(t.device.state()).toMatchObject({ value: 0 });
    t.chip.drive(9, 1);
    await vi.waitFor(() => expect(t.device.state()).toMatchObject({ value: 1 }), { timeout: 10_000 });
    await t.device.close();
  });
});

describe('gpio: Home Assistant', () => {
  const topics: HaTopics = {
    state: 'b/n/relay/state',
    event: 'b/n/relay/event',
    availability: 'b/n/relay/availability',
    command: (c) => `b/n/relay/cmd/${c}`,
  };
  const info = (direction: 'in' | 'out') => {
    const parsed = gpioKind.options(true).parse({ line: 1, direction });
    if (!parsed.ok) throw new Error('options');
    return { id: 'relay', name: 'relay', sim: true, topics, options: parsed.value };
  };

  it('an output is a switch commanding set, an input a binary_sensor; both read value from the state', () => {
    const [sw] = gpioKind.homeassistant?.(info('out')) ?? [];
    expect(sw).toMatchObject({
      component: 'switch',
      config: { command_topic: 'b/n/relay/cmd/set', state_topic: 'b/n/relay/state', payload_on: 'ON', payload_off: 'OFF' },
    });
    const [bs] = gpioKind.homeassistant?.(info('in')) ?? [];
    expect(bs?.component).toBe('binary_sensor');
    expect(bs?.config).not.toHaveProperty('command_topic');
    expect(String(bs?.config.value_template)).toContain('value_json.value == 1');
  });
});
