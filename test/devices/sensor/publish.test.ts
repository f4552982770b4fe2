/**
 * When a sensor publishes: on a move of `minDelta` or after `intervalMs`,
 * whichever comes first (`get` always); `configure` changes both (and the
 * read interval) while it runs; a failing poll says so once per new error
 * and once when reads work again. A 1-wire conversion waits on timers: the
 * event loop turns meanwhile, and an agent answers another device's command
 * while a stalled sensor converts. The sims of each source run on their own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { deviceCommandTopic, deviceTopic, type TopicScheme } from '../../../src/agent/topics.js';
import type { SensorDevice } from '../../../src/devices/sensor/device.js';
import { sensorKind } from '../../../src/devices/sensor/kind.js';
import { attachDs18b20, SimDs18b20 } from '../../../src/devices/sensor/sim.js';
import { startAgent } from '../../helpers/agent.js';
import { turnsDuring } from '../../helpers/event-loop.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';
import { TestClient } from '../../helpers/mqtt-client.js';
import { sysTree } from '../../helpers/recorded-trees.js';

const SHT = 'devices/platform/soc/fe804000.i2c/i2c-1/1-0044/hwmon/hwmon2';

async function sht3x(options: Record<string, unknown> = {}): Promise<TestDevice<SensorDevice> & { set(milli: number): void }> {
  const tree = await sysTree('pi4');
  const t = await makeTestDevice(sensorKind, {
    options: { source: 'hwmon', chip: 'sht3x', input: 'temp1', readMs: 3_600_000, ...options },
    sysfs: tree,
  });
  await t.device.open();
  await vi.waitFor(() => expect(t.device.state().value).toBe(21.345));
  return { ...t, set: (milli) => tree.set(`${SHT}/temp1_input`, `${milli}\n`) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('publishing on minDelta or intervalMs', () => {
  it('publishes a move of minDelta at once, a smaller one only when intervalMs has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const t = await sht3x({ minDelta: 0.5, intervalMs: 60_000 });
    const first = t.device.state();
    // (vi.waitFor moves the fake clock along while it waits for the first read.)
    expect(first).toMatchObject({ value: 21.345, unit: '°C', minDelta: 0.5, intervalMs: 60_000 });
    expect(first.ts).toBeGreaterThanOrEqual(Date.parse('2026-01-01T00:00:00Z'));
    let published = t.recorded.stateChanges;

    t.set(21_600);
    expect(await t.device.sample()).toBe(21.6);
    expect(t.device.state()).toEqual(first);
    expect(t.recorded.stateChanges).toBe(published);

    t.set(21_900);
    vi.setSystemTime(new Date('2026-01-01T00:00:10Z'));
    await t.device.sample();
    expect(t.device.state()).toMatchObject({ value: 21.9, ts: Date.parse('2026-01-01T00:00:10Z') });
    expect(t.recorded.stateChanges).toBe(++published);

    t.set(22_000);
    vi.setSystemTime(new Date('2026-01-01T00:01:09Z'));
    await t.device.sample();
    expect(t.device.state()).toMatchObject({ value: 21.9 });
    vi.setSystemTime(new Date('2026-01-01T00:01:10Z'));
    await t.device.sample();
    expect(t.device.state()).toMatchObject({ value: 22, ts: Date.parse('2026-01-01T00:01:10Z') });
    // Unchanged, the value is published again each intervalMs: a heartbeat.
    vi.setSystemTime(new Date('2026-01-01T00:02:10Z'));
    await t.device.sample();
    expect(t.device.state()).toMatchObject({ value: 22, ts: Date.parse('2026-01-01T00:02:10Z') });
    expect(t.recorded.stateChanges).toBe(published + 2);
  });

  it('get publishes whatever it reads; configure changes minDelta and intervalMs while the device runs', async () => {
    const t = await sht3x();
    // Temperatures move by 0.2 °C by default.
    expect(t.device.state()).toMatchObject({ minDelta: 0.2, intervalMs: 300_000, readMs: 3_600_000 });
    t.set(21_400);
    await t.device.sample();
    expect(t.device.state().value).toBe(21.345);
    expect(await t.run('get')).toMatchObject({ value: 21.4 });
    expect(await t.run('configure', { minDelta: 0, intervalMs: 5000 })).toEqual({ minDelta: 0, intervalMs: 5000, readMs: 3_600_000 });
    t.set(21_401);
    await t.device.sample();
    expect(t.device.state()).toMatchObject({ value: 21.401, minDelta: 0, intervalMs: 5000 });
    await expect(t.run('configure', {})).rejects.toThrow(/give intervalMs, minDelta or readMs/);
    await expect(t.run('configure', { minDelta: -1 })).rejects.toThrow(/minDelta/);
  });

  it('a humidity moves by 1 % by default, and the reading is scaled and offset as configured', async () => {
    const tree = await sysTree('pi4');
    const t = await makeTestDevice(sensorKind, {
      options: { source: 'hwmon', chip: 'sht3x', input: 'humidity1', readMs: 3_600_000, scale: 0.5, offset: 10 },
      sysfs: tree,
    });
    await t.device.open();
    expect(await t.run('get')).toMatchObject({ value: 32.605, minDelta: 1, unit: '%' });
  });
});

describe('polling', () => {
  it('reads every readMs; a failing read is one read_failed event per new error and read_ok when it works again', async () => {
    const tree = await sysTree('pi4');
    const model = new SimDs18b20();
    model.conversionMs = 5;
    attachDs18b20(tree, '28-3c01d607d8f1', model);
    const t = await makeTestDevice(sensorKind, { options: { source: 'w1', id: '28-3c01d607d8f1', readMs: 3_600_000 }, sysfs: tree });
    await t.device.open();
    await vi.waitFor(() => expect(t.device.state().value).toBe(21.375));
    await t.run('configure', { readMs: 250 });
    model.failure = 'crc';
    await vi.waitFor(() => expect(model.conversions).toBeGreaterThanOrEqual(5), { timeout: 20_000 });
    const failed = t.recorded.events.filter((e) => e.type === 'read_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ error: { code: 'device_error', errno: 'EIO' } });
    expect(t.device.state().value).toBe(21.375);
    model.failure = undefined;
    model.milli = 23_000;
    await vi.waitFor(() => expect(t.recorded.events.at(-1)).toMatchObject({ type: 'read_ok' }), { timeout: 20_000 });
    await vi.waitFor(() => expect(t.device.state().value).toBe(23));
    t.abort.abort();
  });
});

describe('a 1-wire conversion off the event loop', () => {
  it('the loop keeps turning while a DS18B20 converts for 750 ms', async () => {
    const tree = await sysTree('pi4');
    const model = new SimDs18b20();
    attachDs18b20(tree, '28-3c01d607d8f1', model);
    const t = await makeTestDevice(sensorKind, { options: { source: 'w1', id: '28-3c01d607d8f1', readMs: 3_600_000 }, sysfs: tree });
    await t.device.open();
    await vi.waitFor(() => expect(t.device.state().value).toBe(21.375), { timeout: 10_000 });
    const { value, turns } = await turnsDuring(t.run('get'));
    expect(value).toMatchObject({ value: 21.375 });
    expect(turns).toBeGreaterThan(10);
    t.abort.abort();
  });

  describe('in an agent, beside another device', () => {
    const T: TopicScheme = { base: 'dev2mqtt', node: 'w1-stall', groups: [] };
    let agent: Agent;
    let client: TestClient;
    beforeAll(async () => {
      agent = await startAgent({
        config: {
          node: { id: T.node },
          devices: [
            // A conversion that takes half a minute: a bus stuck in retries. It starts with the first read at open.
            { id: 'probe', kind: 'sensor', sim: true, options: { source: 'w1', simConversionMs: 30_000, readMs: 3_600_000 } },
            { id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } },
          ],
        },
      });
      client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
      await client.subscribe(`${T.base}/${T.node}/#`);
    });
    afterAll(async () => {
      await client?.end();
      await agent?.stop();
    });

    it("answers the LED while the sensor's conversion is in flight, and the sensor's get waits its turn", async () => {
      await client.publish(deviceCommandTopic(T, 'probe', 'get'), JSON.stringify({ id: 'g1' }));
      for (let i = 0; i < 5; i++) {
        const led = await client.command(deviceCommandTopic(T, 'led0', 'set'), { state: i % 2 ? 'OFF' : 'ON' }, `l${i}`);
        expect(led).toMatchObject({ ok: true });
      }
      const sensorResults = client.messages.filter((m) => m.topic === deviceTopic(T, 'probe', 'result'));
      expect(sensorResults).toEqual([]);
      expect(JSON.parse(client.messages.filter((m) => m.topic === deviceTopic(T, 'probe', 'state')).at(-1)!.payload)).toMatchObject({
        value: null,
      });
    });
  });
});

describe('the sims', () => {
  it('run on their defaults, one per source, each with its quantity', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{}, 'temperature', '°C'],
      [{ source: 'hwmon', input: 'fan1' }, 'fan', 'RPM'],
      [{ source: 'thermal' }, 'temperature', '°C'],
      [{ source: 'iio' }, 'humidity', '%'],
      [{ source: 'iio', device: 'bmp280', channel: 'in_pressure', simValue: 98.7 }, 'pressure', 'kPa'],
    ];
    for (const [options, quantity, unit] of cases) {
      const t = await makeTestDevice(sensorKind, { sim: true, options: { simConversionMs: 10, readMs: 3_600_000, ...options } });
      await t.device.open();
      const s = (await t.run('get')) as Record<string, unknown>;
      expect(s, JSON.stringify(options)).toMatchObject({ quantity, unit });
      expect(typeof s.value).toBe('number');
      t.abort.abort();
    }
  });
});
