/**
 * `sensor` on the recorded trees (test/fixtures/trees): each source reads
 * and scales as its ABI says, and fails the ways the hardware does —
 * a missing file, an unreadable attribute (EACCES, EIO with the errno in the
 * result), a 1-wire CRC failure, the DS18B20's 85 °C power-on value, an
 * hwmon chip that renumbers after a reboot — leaving the state as it was.
 */
import { describe, expect, it, vi } from 'vitest';
import { toErrorBody } from '../../../src/devices/errors.js';
import type { SensorDevice } from '../../../src/devices/sensor/device.js';
import { sensorKind } from '../../../src/devices/sensor/kind.js';
import { SimErrno, type SimSysfs } from '../../../src/kernel/sysfs-sim.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';
import { sysTree, type Machine } from '../../helpers/recorded-trees.js';

/** A sensor on a recorded tree, opened, with its first reading taken (or failed). */
async function sensor(
  machine: Machine | SimSysfs,
  options: Record<string, unknown>,
): Promise<TestDevice<SensorDevice> & { tree: SimSysfs }> {
  const tree = typeof machine === 'string' ? await sysTree(machine) : machine;
  const t = await makeTestDevice(sensorKind, { options: { readMs: 3_600_000, ...options }, sysfs: tree });
  await t.device.open();
  return { ...t, tree };
}

/** What a command's failure becomes in its result. */
async function failure(p: Promise<unknown>): Promise<Record<string, unknown>> {
  return toErrorBody(
    await p.then(
      () => new Error('it worked'),
      (e: unknown) => e,
    ),
  );
}

const value = (t: TestDevice<SensorDevice>): unknown => t.device.state().value;

describe('hwmon', () => {
  it('finds a chip by name and scales each input type by the sysfs ABI', async () => {
    const cases: Array<[Machine, string, string, number, string, string]> = [
      ['pi4', 'sht3x', 'temp1', 21.345, '°C', 'sht3x temp1'],
      ['pi4', 'sht3x', 'humidity1', 45.21, '%', 'sht3x humidity1'],
      ['pi5', 'ina219', 'in1', 5.084, 'V', 'ina219 in1'],
      ['pi5', 'ina219', 'curr1', 1.2, 'A', 'ina219 curr1'],
      ['pi5', 'ina219', 'power1', 6.1, 'W', 'ina219 power1'],
      ['pi5', 'pwmfan', 'fan1', 2920, 'RPM', 'pwmfan fan1'],
      ['x86', 'coretemp', 'temp1', 45, '°C', 'Package id 0'],
      ['x86', 'nvme0', 'temp1', 38.85, '°C', 'Composite'],
      ['x86', 'nct6798', 'in0', 1.012, 'V', 'nct6798 in0'],
    ];
    for (const [machine, chip, input, want, unit, label] of cases) {
      const t = await sensor(machine, { source: 'hwmon', chip, input });
      expect(await t.run('get'), `${chip} ${input}`).toMatchObject({ value: want, unit, label, source: 'hwmon' });
    }
  });

  it('a chip that renumbers after a reboot is found again by its name; configured as hwmonN, the move is refused', async () => {
    const tree = await sysTree('pi4');
    const byName = await sensor(tree, { source: 'hwmon', chip: 'sht3x', input: 'temp1' });
    const byNumber = await sensor(tree, { source: 'hwmon', chip: 'hwmon2', input: 'temp1' });
    expect(byNumber.device.state()).toMatchObject({ label: 'sht3x temp1' });
    // The next boot probes the I²C chip first: sht3x becomes hwmon0, the thermal twin hwmon2.
    const sht = '../../devices/platform/soc/fe804000.i2c/i2c-1/1-0044/hwmon/hwmon2';
    const cpu = '../../devices/virtual/thermal/thermal_zone0/hwmon0';
    tree.link('class/hwmon/hwmon0', sht);
    tree.link('class/hwmon/hwmon2', cpu);
    tree.set('devices/platform/soc/fe804000.i2c/i2c-1/1-0044/hwmon/hwmon2/temp1_input', '23500\n');
    await byName.device.close();
    await byName.device.open();
    expect(await byName.run('get')).toMatchObject({ value: 23.5, label: 'sht3x temp1' });
    await byNumber.device.close();
    await expect(byNumber.device.open()).rejects.toThrow(/hwmon2 is now 'cpu_thermal', it was 'sht3x'.*name the chip \('sht3x'\)/);
  });

  it('two chips of one name are told apart by their devices', async () => {
    const tree = await sysTree('x86');
    tree.mkdir('devices/pci0000:00/0000:00:1c.0/0000:04:00.0/nvme/nvme1/hwmon4');
    tree.file('devices/pci0000:00/0000:00:1c.0/0000:04:00.0/nvme/nvme1/hwmon4/name', 'nvme\n');
    tree.file('devices/pci0000:00/0000:00:1c.0/0000:04:00.0/nvme/nvme1/hwmon4/temp1_input', '51850\n');
    tree.link('devices/pci0000:00/0000:00:1c.0/0000:04:00.0/nvme/nvme1/hwmon4/device', '../../nvme1');
    tree.link('class/hwmon/hwmon4', '../../devices/pci0000:00/0000:00:1c.0/0000:04:00.0/nvme/nvme1/hwmon4');
    const t = await makeTestDevice(sensorKind, { options: { source: 'hwmon', chip: 'nvme', input: 'temp1' }, sysfs: tree });
    await expect(t.device.open()).rejects.toThrow(/matches hwmon1 \(device nvme0\), hwmon4 \(device nvme1\): name the chip by its device/);
    const second = await sensor(tree, { source: 'hwmon', chip: 'nvme1', input: 'temp1' });
    expect(await second.run('get')).toMatchObject({ value: 51.85 });
  });

  it('a missing input or chip is ENOENT naming what there is; a file that goes away takes the device offline', async () => {
    const none = await makeTestDevice(sensorKind, {
      options: { source: 'hwmon', chip: 'sht3x', input: 'temp2' },
      sysfs: await sysTree('pi4'),
    });
    await expect(none.device.open()).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringMatching(/temp2_input not found.*humidity1_input, temp1_input/),
    });
    const chipless = await makeTestDevice(sensorKind, {
      options: { source: 'hwmon', chip: 'lm75', input: 'temp1' },
      sysfs: await sysTree('pi4'),
    });
    await expect(chipless.device.open()).rejects.toThrow(/hwmon chip 'lm75' not found.*hwmon2 \(sht3x\)/);

    const t = await sensor('pi4', { source: 'hwmon', chip: 'sht3x', input: 'humidity1' });
    await vi.waitFor(() => expect(value(t)).toBe(45.21));
    t.tree.remove('devices/platform/soc/fe804000.i2c/i2c-1/1-0044/hwmon/hwmon2/humidity1_input');
    expect(await failure(t.run('get'))).toMatchObject({
      code: 'device_error',
      errno: 'ENOENT',
      path: expect.stringMatching(/humidity1_input$/),
    });
    expect(t.recorded.lost).toHaveLength(1);
    expect(value(t)).toBe(45.21);
  });

  it('an unreadable attribute fails with its errno (EACCES, EIO, ENODATA, EAGAIN, ENXIO), the state unchanged and the device still online', async () => {
    const t = await sensor('pi4', { source: 'hwmon', chip: 'sht3x', input: 'temp1' });
    await vi.waitFor(() => expect(value(t)).toBe(21.345));
    const file = 'devices/platform/soc/fe804000.i2c/i2c-1/1-0044/hwmon/hwmon2/temp1_input';
    t.tree.deny(file, 'EACCES');
    expect(await failure(t.run('get'))).toMatchObject({
      code: 'device_error',
      errno: 'EACCES',
      syscall: 'open',
      path: '/sys/class/hwmon/hwmon2/temp1_input',
    });
    t.tree.deny(file, undefined);
    // ENXIO: the chip does not answer on its I²C bus, its driver and files stay; not a device gone away.
    for (const errno of ['EIO', 'ENODATA', 'EAGAIN', 'ENXIO']) {
      t.tree.attr(file, {
        show: () => {
          throw new SimErrno(errno);
        },
      });
      expect(await failure(t.run('get'))).toMatchObject({ code: 'device_error', errno, syscall: 'read' });
    }
    expect(value(t)).toBe(21.345);
    expect(t.recorded.lost).toEqual([]);
  });
});

describe('thermal', () => {
  it('reads millidegrees by zone name, number or type', async () => {
    for (const zone of ['thermal_zone0', '0', 'cpu-thermal']) {
      const t = await sensor('pi4', { source: 'thermal', zone });
      expect(await t.run('get')).toMatchObject({ value: 48.686, unit: '°C', label: 'cpu-thermal', quantity: 'temperature' });
    }
    expect(await (await sensor('x86', { source: 'thermal', zone: 'x86_pkg_temp' })).run('get')).toMatchObject({ value: 45 });
  });

  it('a zone that is not there is ENOENT listing the zones; a failing read is EIO with the state kept', async () => {
    const t0 = await makeTestDevice(sensorKind, { options: { source: 'thermal', zone: 'gpu-thermal' }, sysfs: await sysTree('pi4') });
    await expect(t0.device.open()).rejects.toThrow(/thermal zone 'gpu-thermal' not found.*thermal_zone0 \(cpu-thermal\)/);
    const t = await sensor('pi4', { source: 'thermal', zone: 'cpu-thermal' });
    await vi.waitFor(() => expect(value(t)).toBe(48.686));
    t.tree.attr('devices/virtual/thermal/thermal_zone0/temp', {
      show: () => {
        throw new SimErrno('EIO');
      },
    });
    expect(await failure(t.run('get'))).toMatchObject({ errno: 'EIO' });
    expect(value(t)).toBe(48.686);
  });
});

describe('w1 (DS18B20)', () => {
  const ID = '28-3c01d607d8f1';
  const dir = `devices/w1_bus_master1/${ID}`;

  it('reads the temperature attribute where the kernel has it, w1_slave where it has not', async () => {
    const t = await sensor('pi4', { source: 'w1', id: ID });
    expect(await t.run('get')).toMatchObject({
      value: 21.375,
      unit: '°C',
      label: `DS18B20 ${ID}`,
      path: `/sys/bus/w1/devices/${ID}/temperature`,
    });
    const old = await sysTree('pi4');
    old.remove(`${dir}/temperature`);
    old.set(`${dir}/w1_slave`, '5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n');
    const t2 = await sensor(old, { source: 'w1', id: ID });
    expect(await t2.run('get')).toMatchObject({ value: -10.125, path: `/sys/bus/w1/devices/${ID}/w1_slave` });
  });

  it('crc=… NO, the power-on 85 °C and an empty read are EIO, never a temperature; a real 85 °C is one', async () => {
    const tree = await sysTree('pi4');
    tree.remove(`${dir}/temperature`);
    const t = await sensor(tree, { source: 'w1', id: ID });
    await vi.waitFor(() => expect(value(t)).toBe(21.375));
    const bad: Array<[string, RegExp]> = [
      ['56 01 4b 46 7f ff 0a 10 8b : crc=d1 NO\n56 01 4b 46 7f ff 0a 10 d1 t=21375\n', /CRC check failed \(crc=d1 NO\)/],
      ['50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n', /85 °C is the power-on value/],
      ['', /no reading/],
      ['garbage\n', /unexpected text/],
    ];
    for (const [text, why] of bad) {
      tree.set(`${dir}/w1_slave`, text);
      const e = await failure(t.run('get'));
      expect(e, text).toMatchObject({ code: 'device_error', errno: 'EIO', message: expect.stringMatching(why) });
      expect(value(t)).toBe(21.375);
    }
    tree.set(`${dir}/w1_slave`, '50 05 4b 46 7f ff 10 10 bd : crc=bd YES\n50 05 4b 46 7f ff 10 10 bd t=85000\n');
    expect(await t.run('get')).toMatchObject({ value: 85 });
  });

  it('through `temperature`, 85000, 127937 and an empty read are refused too', async () => {
    const t = await sensor('pi4', { source: 'w1', id: ID });
    await vi.waitFor(() => expect(value(t)).toBe(21.375));
    for (const [text, why] of [
      ['85000\n', /power-on/],
      // 0x07FF: the scratchpad a conversion without enough power leaves; above the 125 °C a DS18B20 can measure.
      ['127937\n', /too little power/],
      ['', /no reading/],
    ] as const) {
      t.tree.set(`${dir}/temperature`, text);
      expect(await failure(t.run('get'))).toMatchObject({ errno: 'EIO', message: expect.stringMatching(why) });
    }
    expect(value(t)).toBe(21.375);
  });

  it('an unplugged sensor is ENOENT and takes the device offline; an unreadable one says EACCES', async () => {
    const t = await sensor('pi4', { source: 'w1', id: ID });
    await vi.waitFor(() => expect(value(t)).toBe(21.375));
    t.tree.deny(`${dir}/temperature`, 'EACCES');
    expect(await failure(t.run('get'))).toMatchObject({ errno: 'EACCES' });
    expect(t.recorded.lost).toEqual([]);
    t.tree.unplug(dir);
    expect(await failure(t.run('get'))).toMatchObject({ errno: 'ENOENT' });
    expect(t.recorded.lost).toHaveLength(1);
    const gone = await makeTestDevice(sensorKind, { options: { source: 'w1', id: '28-000000000001' }, sysfs: await sysTree('pi4') });
    await expect(gone.device.open()).rejects.toThrow(/1-wire device 28-000000000001 not found.*there is 28-3c01d607d8f1/);
  });
});

describe('iio', () => {
  it('takes _input as it is (DHT22 through dht11) and (raw + offset) × scale otherwise (Si7021 through si7020)', async () => {
    const cases: Array<[Machine, string, string, number, string]> = [
      ['pi4', 'dht11', 'in_humidityrelative', 45.3, '%'],
      ['pi4', 'iio:device0', 'in_temp', 21.3, '°C'],
      // (6684 − 786) × 7.629394531 = 44998.2 milli percent; (6419 − 4368) × 10.725097656 = 21997.2 milli °C.
      ['pi5', 'si7020', 'in_humidityrelative', 44.9982, '%'],
      ['pi5', 'si7020', 'in_temp', 21.9972, '°C'],
    ];
    for (const [machine, device, channel, want, unit] of cases) {
      const t = await sensor(machine, { source: 'iio', device, channel });
      expect(await t.run('get'), `${device} ${channel}`).toMatchObject({ value: want, unit });
    }
  });

  it('a scale shared by the channel type applies, an absent offset is 0', async () => {
    const tree = await sysTree('pi5');
    const at = 'devices/platform/axi/1000120000.pcie/1f00074000.i2c/i2c-1/1-0040/iio:device0';
    tree.file(`${at}/in_voltage0_raw`, '2048\n');
    tree.file(`${at}/in_voltage_scale`, '0.805664062\n');
    const t = await sensor(tree, { source: 'iio', device: 'si7020', channel: 'in_voltage0' });
    expect(await t.run('get')).toMatchObject({ value: 1.65, unit: 'V' });
  });

  it('a sensor that times out is ETIMEDOUT with the state kept; a missing channel lists the channels', async () => {
    const t = await sensor('pi4', { source: 'iio', device: 'dht11', channel: 'in_temp' });
    await vi.waitFor(() => expect(value(t)).toBe(21.3));
    t.tree.attr('devices/platform/dht11@4/iio:device0/in_temp_input', {
      show: () => {
        throw new SimErrno('ETIMEDOUT');
      },
    });
    expect(await failure(t.run('get'))).toMatchObject({ errno: 'ETIMEDOUT' });
    expect(value(t)).toBe(21.3);
    const none = await makeTestDevice(sensorKind, {
      options: { source: 'iio', device: 'dht11', channel: 'in_pressure' },
      sysfs: await sysTree('pi4'),
    });
    await expect(none.device.open()).rejects.toThrow(/in_pressure \(_input or _raw\) not found.*in_humidityrelative, in_temp/);
  });
});
