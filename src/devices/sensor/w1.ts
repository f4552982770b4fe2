/**
 * A 1-wire thermometer through w1_therm (`/sys/bus/w1/devices/ID/`;
 * Documentation/w1/slaves/w1_therm.rst, ABI sysfs-driver-w1_therm). Reading
 * starts a conversion and waits for it — about 750 ms at a DS18B20's
 * 12 bits — which the sysfs seam does off the event loop.
 *
 * Newer kernels have `temperature` (1/1000 °C); every kernel has `w1_slave`:
 *   `56 01 4b 46 7f ff 0a 10 d1 : crc=d1 YES`
 *   `56 01 4b 46 7f ff 0a 10 d1 t=21375`
 * What is no measurement fails with EIO, state unchanged:
 *  - an empty read: the driver's conversion or scratchpad read failed (a bus
 *    error, or the CRC failed on every retry: newer kernels say nothing more);
 *  - `crc=… NO`: the scratchpad came back corrupted (older kernels print it);
 *  - 85 °C, the scratchpad's power-on value: the sensor never converted (its
 *    power dropped, or the read came too soon). From `w1_slave` the bytes tell
 *    a real 85.000 °C (COUNT REMAIN 0x10) from the power-on one (0x0C), as the
 *    driver's own check does; `temperature` has no bytes, so 85000 is refused;
 *  - 127.9375 °C with the power-on byte (any 127.9375 from `temperature`):
 *    too little power for a conversion.
 */
import type { Sysfs } from '../../kernel/sysfs.js';
import { badReading, fixedPoint, notFound, type SensorSource } from './source.js';

const DEVICES = 'bus/w1/devices';
/** w1_therm's families (the first byte of the id). */
export const W1_THERM_FAMILIES: Readonly<Record<string, string>> = {
  '10': 'DS18S20',
  '22': 'DS1822',
  '28': 'DS18B20',
  '3b': 'DS1825',
  '42': 'DS28EA00',
};
export const W1_ID = /^[0-9a-f]{2}-[0-9a-f]{12}$/;

const POWER_ON_MILLI = 85_000;
const LOW_POWER_MILLI = 127_937;
const POWER_ON_COUNT_REMAIN = 0x0c;

const hexBytes = (s: string): number[] =>
  s
    .trim()
    .split(/\s+/)
    .map((b) => parseInt(b, 16));

/** The temperature in 1/1000 °C that a `w1_slave` text carries, or the EIO saying why it carries none. */
export function parseW1Slave(text: string, path: string): number {
  if (text.trim() === '') throw badReading(path, 'no reading: the conversion or the scratchpad read failed (bus error or CRC)');
  const [first = '', second = ''] = text.trim().split('\n');
  const crc = /^((?:[0-9a-f]{2} ){9}): crc=([0-9a-f]{2}) (YES|NO)$/.exec(first.trim());
  const t = /^(?:[0-9a-f]{2} ){9}t=(-?\d+)$/.exec(second.trim());
  if (!crc || !t) throw badReading(path, `unexpected text '${text.trim().slice(0, 80)}'`);
  if (crc[3] === 'NO') throw badReading(path, `CRC check failed (crc=${crc[2]} NO): a noisy bus or a loose wire`, { reason: 'crc' });
  const milli = Number(t[1]);
  const bytes = hexBytes(crc[1] as string);
  if (bytes[6] === POWER_ON_COUNT_REMAIN && (milli === POWER_ON_MILLI || milli === LOW_POWER_MILLI)) throw powerOn(path, milli);
  return milli;
}

function powerOn(path: string, milli: number): Error {
  return milli === LOW_POWER_MILLI
    ? badReading(path, '127.9375 °C with the power-on scratchpad: too little power for a conversion', { reason: 'power' })
    : badReading(path, '85 °C is the power-on value: the sensor did not convert (its power dropped, or the read came too soon)', {
        reason: 'power_on',
      });
}

export async function w1Devices(sysfs: Sysfs): Promise<string[]> {
  return (await sysfs.list(DEVICES).catch(() => [])).filter((n) => W1_ID.test(n));
}

export async function w1Source(sysfs: Sysfs, id: string): Promise<SensorSource> {
  const dir = `${DEVICES}/${id}`;
  if (!(await sysfs.exists(dir))) throw notFound(sysfs.path(DEVICES), `1-wire device ${id}`, await w1Devices(sysfs));
  const family = W1_THERM_FAMILIES[id.slice(0, 2)];
  if (!family) throw new Error(`1-wire device ${id} is not a w1_therm thermometer (family ${id.slice(0, 2)})`);
  const temperature = `${dir}/temperature`;
  const slave = `${dir}/w1_slave`;
  const modern = await sysfs.exists(temperature);
  const rel = modern ? temperature : slave;
  return {
    quantity: 'temperature',
    label: `${family} ${id}`,
    path: sysfs.path(rel),
    chip: family,
    read: async () => {
      const text = await sysfs.read(rel);
      if (!modern) return parseW1Slave(text, sysfs.path(rel)) / 1000;
      if (text.trim() === '')
        throw badReading(sysfs.path(rel), 'no reading: the conversion or the scratchpad read failed (bus error or CRC)');
      const milli = fixedPoint(text, sysfs.path(rel));
      // No bytes to look at here; neither value is a DS18B20 measurement unchecked (127.9375 °C is above its range).
      if (milli === POWER_ON_MILLI || milli === LOW_POWER_MILLI) throw powerOn(sysfs.path(rel), milli);
      return milli / 1000;
    },
  };
}
