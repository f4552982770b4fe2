/**
 * `sensor` on this machine's real /sys: probe finds exactly the hwmon inputs
 * and thermal zones node:fs sees there, and each opens as a device whose
 * reading agrees with the file read directly. A machine with none (a
 * container, a VM without ACPI thermal) checks that probe finds none and
 * reports no problem; the recorded trees cover the sources' behaviour.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SensorDevice } from '../../../src/devices/sensor/device.js';
import { sensorKind } from '../../../src/devices/sensor/kind.js';
import type { SensorFound } from '../../../src/devices/sensor/probe.js';
import type { Kernel } from '../../../src/kernel/kernel.js';
import { FsSysfs } from '../../../src/kernel/sysfs-fs.js';
import { makeTestDevice } from '../../helpers/device-context.js';

const list = (dir: string, re: RegExp): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => re.test(n)) : []);

/** What node:fs sees: `hwmonN/temp1`, `thermal_zoneN`, each with its raw value (undefined when unreadable). */
function seen(): { hwmon: Map<string, number | undefined>; zones: Map<string, number | undefined> } {
  const raw = (f: string): number | undefined => {
    try {
      return Number(readFileSync(f, 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  const hwmon = new Map<string, number | undefined>();
  for (const chip of list('/sys/class/hwmon', /^hwmon\d+$/)) {
    const dir = `/sys/class/hwmon/${chip}`;
    for (const f of list(dir, /^(temp|in|curr|power|energy|humidity|fan)\d+_input$/))
      hwmon.set(`${chip}/${f.replace(/_input$/, '')}`, raw(`${dir}/${f}`));
  }
  const zones = new Map<string, number | undefined>();
  for (const z of list('/sys/class/thermal', /^thermal_zone\d+$/)) zones.set(z, raw(`/sys/class/thermal/${z}/temp`));
  return { hwmon, zones };
}

async function scan(): Promise<{ found: SensorFound[]; problems: string[] }> {
  const problems: string[] = [];
  const sysfs = new FsSysfs('/sys');
  const host = {
    sysfs,
    procfs: new FsSysfs('/proc'),
    dev: new FsSysfs('/dev'),
    kernel: (): Kernel => {
      throw new Error('no device node is opened for sensors');
    },
    problem: (t: string) => void problems.push(t),
  };
  return { found: (await sensorKind.probe!.scan(host)) as SensorFound[], problems };
}

describe('sensor: this machine’s real /sys', () => {
  it('probe finds the thermal zones node:fs sees, and each reads as the file does', async () => {
    const { zones } = seen();
    const { found, problems } = await scan();
    const thermal = found.filter((f) => f.source === 'thermal');
    expect(thermal.length).toBe(zones.size);
    expect(problems.filter((p) => p.startsWith('thermal'))).toEqual(
      [...zones].filter(([, v]) => v === undefined).map(([z]) => expect.stringContaining(z) as unknown),
    );
    for (const f of thermal) {
      const t = await makeTestDevice<unknown, SensorDevice>(sensorKind, {
        options: { source: 'thermal', ...f.options, readMs: 3_600_000 },
      });
      await t.device.open();
      const { value, path } = (await t.run('get')) as { value: number; path: string };
      const direct = Number(readFileSync(path, 'utf8').trim()) / 1000;
      // The two reads are moments apart: a CPU zone moves, by a few degrees at most.
      expect(Math.abs(value - direct), path).toBeLessThan(5);
      t.abort.abort();
    }
  });

  it('probe finds the hwmon inputs node:fs sees (a zone’s hwmon twin left out), and each opens', async () => {
    const { hwmon } = seen();
    const { found } = await scan();
    const inputs = found.filter((f) => f.source === 'hwmon');
    // Every input probe lists is one node:fs sees; those it leaves out are the thermal zones' twins.
    expect(inputs.length).toBeLessThanOrEqual(hwmon.size);
    for (const f of inputs) {
      const t = await makeTestDevice<unknown, SensorDevice>(sensorKind, { options: { source: 'hwmon', ...f.options, readMs: 3_600_000 } });
      await t.device.open();
      const state = (await t.run('get')) as { value: number; path: string };
      expect(typeof state.value, state.path).toBe('number');
      expect(state.path.startsWith('/sys/class/hwmon/hwmon'), state.path).toBe(true);
      t.abort.abort();
    }
    if (hwmon.size === 0) expect(inputs).toEqual([]);
  });
});
