/**
 * What `sensor` tells the rest of the agent: `dev2mqtt probe` over the
 * recorded trees finds every hwmon input (chips by a name that survives a
 * reboot, or by device when two share a name), thermal zone (the hwmon twin
 * of a zone left out), 1-wire thermometer and IIO channel, and writes each
 * into the starter config, which the config loader accepts and whose devices
 * open on the same tree. The systemd drop-in needs nothing for a sensor.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { sandboxFor } from '../../../src/deploy/sandbox.js';
import { builtinKinds } from '../../../src/devices/builtin.js';
import type { SensorFound } from '../../../src/devices/sensor/probe.js';
import { KindRegistry } from '../../../src/devices/registry.js';
import { sensorKind } from '../../../src/devices/sensor/kind.js';
import type { StarterConfig } from '../../../src/probe/starter.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { sysTree, treeDir, probeTree } from '../../helpers/recorded-trees.js';

const probe = probeTree;

type Probed = { found: { sensors: SensorFound[]; problems: string[] }; config: StarterConfig };

describe('sensor: probe', () => {
  it('finds every input of a Raspberry Pi 4: the SoC zone (not its hwmon twin), an SHT3x, a DS18B20 and a DHT22', async () => {
    const { found } = JSON.parse(await probe('pi4')) as Probed;
    expect(found.sensors.map((f) => [f.source, f.options, f.quantity, f.value])).toEqual([
      ['hwmon', { chip: 'sht3x', input: 'humidity1' }, 'humidity', 45.21],
      ['hwmon', { chip: 'sht3x', input: 'temp1' }, 'temperature', 21.345],
      ['thermal', { zone: 'cpu-thermal' }, 'temperature', 48.686],
      ['w1', { id: '28-3c01d607d8f1' }, 'temperature', undefined],
      ['iio', { device: 'dht11', channel: 'in_humidityrelative' }, 'humidity', undefined],
      ['iio', { device: 'dht11', channel: 'in_temp' }, 'temperature', undefined],
    ]);
    expect(found.problems).toEqual([]);
  });

  it('on an x86 box: coretemp and nvme by their labels, a Super-I/O’s voltages and fan, both zones', async () => {
    const { found } = JSON.parse(await probe('x86')) as Probed;
    const hw = found.sensors.filter((f) => f.source === 'hwmon').map((f) => `${f.options.chip}/${f.options.input} ${f.label}`);
    expect(hw).toEqual([
      'nvme/temp1 Composite',
      'nvme/temp2 Sensor 1',
      'nvme/temp3 Sensor 2',
      'coretemp/temp1 Package id 0',
      'coretemp/temp2 Core 0',
      'coretemp/temp3 Core 1',
      'nct6798/fan2 nct6798 fan2',
      'nct6798/in0 nct6798 in0',
      'nct6798/in1 nct6798 in1',
      'nct6798/temp1 SYSTIN',
    ]);
    expect(found.sensors.filter((f) => f.source === 'thermal').map((f) => f.options.zone)).toEqual(['acpitz', 'x86_pkg_temp']);
  });

  it('writes each into a starter config that loads, and whose devices open on the same tree', async () => {
    const { config } = JSON.parse(await probe('pi5')) as Probed;
    const sensors = config.devices.filter((d) => d.kind === 'sensor');
    expect(sensors.map((d) => d.id)).toEqual([
      'rp1_adc-in1',
      'rp1_adc-in2',
      'rp1_adc-in3',
      'rp1_adc-in4',
      'rp1_adc-temp1',
      'pwmfan-fan1',
      'ina219-curr1',
      'ina219-in0',
      'ina219-in1',
      'ina219-power1',
      'cpu-thermal',
      'si7020-in_humidityrelative',
      'si7020-in_temp',
    ]);
    expect(sensors.find((d) => d.id === 'pwmfan-fan1')).toMatchObject({
      name: 'pwmfan fan1',
      options: { source: 'hwmon', chip: 'pwmfan', input: 'fan1', sysfsRoot: treeDir('pi5', 'sys').replace(/\/$/, '') },
    });
    const loaded = await loadConfig({
      object: config as unknown as Record<string, unknown>,
      registry: new KindRegistry(builtinKinds()),
      env: {},
    });
    const tree = await sysTree('pi5');
    for (const d of loaded.devices.filter((x) => x.kind === 'sensor')) {
      const t = await makeTestDevice(sensorKind, { options: { ...(d.options as object), readMs: 3_600_000 }, sysfs: tree });
      await t.device.open();
      expect(typeof ((await t.run('get')) as { value: unknown }).value, d.id).toBe('number');
      t.abort.abort();
    }
    expect(
      sandboxFor(
        loaded.devices.filter((x) => x.kind === 'sensor'),
        new KindRegistry(builtinKinds()),
      ),
    ).toEqual({
      deviceAllow: [],
      readWritePaths: [],
      groups: [],
      notes: [],
    });
  });

  it('lists them for a person, with the values read', async () => {
    const out = await probe('pi4', false);
    expect(out).toContain('Sensors: hwmon, thermal zones, 1-wire, IIO');
    expect(out).toContain('  hwmon   chip sht3x, input temp1  sht3x temp1  21.345 °C');
    expect(out).toContain('  thermal zone cpu-thermal  cpu-thermal  48.686 °C');
    expect(out).toContain('  w1      id 28-3c01d607d8f1  DS18B20 28-3c01d607d8f1');
  });
});
