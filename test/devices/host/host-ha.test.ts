/**
 * `host` in Home Assistant: sensors with device classes and units, a
 * timestamp for the boot time, diagnostic entities for what describes the
 * machine, `problem` binary sensors for the throttling flags. Every entity
 * passes the project's HA schema check, and every template renders the
 * state the device publishes on each recorded machine as HA takes it: a
 * number, ON/OFF, an ISO time, or None where the item is null — never a
 * template error and never a 0 that is not there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicScheme } from '../../../src/agent/topics.js';
import type { HostDevice } from '../../../src/devices/host/device.js';
import { hostKind } from '../../../src/devices/host/kind.js';
import type { HaEntity } from '../../../src/homeassistant/entities.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { schemaProblems } from '../../helpers/ha-schema.js';
import { stateProblems } from '../../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../../helpers/ha-templates.js';
import { kindDeclaration, kindEntities } from '../../helpers/ha-entities.js';
import { mountsOf, procTree, sysTree, type Machine } from '../../helpers/recorded-trees.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'ha-host', groups: [] };

function entities(options: Record<string, unknown>): HaEntity[] {
  return kindEntities(hostKind, T, 'host', options);
}

const OPTIONS: Record<Machine, Record<string, unknown>> = {
  pi4: { mounts: ['/', '/boot/firmware'], interfaces: ['eth0', 'wlan0'], wifi: ['wlan0'] },
  pi5: { mounts: ['/'], interfaces: ['eth0', 'wlan0'], wifi: ['wlan0'], throttling: false },
  x86: { mounts: ['/', '/srv/data'], interfaces: ['enp3s0', 'wlp2s0'], wifi: ['wlp2s0'], throttling: false },
};

const byPart = (es: HaEntity[]): Map<string, HaEntity> => new Map(es.map((e) => [e.part ?? '', e]));

let templates: HaTemplates;

describe.skipIf(!haveJinja())('host: Home Assistant entities', () => {
  beforeAll(() => {
    templates = HaTemplates.start();
  });
  afterAll(async () => {
    await templates?.close();
  });

  it('are sensors with device classes and units, a boot timestamp, diagnostics, and problem flags; all pass the schema check', () => {
    const es = entities(OPTIONS.pi4);
    const p = byPart(es);
    expect(p.get('cpu_temperature')?.config).toMatchObject({
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
    });
    expect(p.get('cpu_frequency')?.config).toMatchObject({
      device_class: 'frequency',
      unit_of_measurement: 'MHz',
      entity_category: 'diagnostic',
    });
    expect(p.get('memory_available')?.config).toMatchObject({ device_class: 'data_size', unit_of_measurement: 'MiB' });
    expect(p.get('disk_root_used')?.config).toMatchObject({ unit_of_measurement: '%', state_class: 'measurement' });
    expect(p.get('disk_boot_firmware_free')?.config).toMatchObject({ device_class: 'data_size', unit_of_measurement: 'GiB' });
    expect(p.get('eth0_in')?.config).toMatchObject({ device_class: 'data_rate', unit_of_measurement: 'kB/s' });
    expect(p.get('wlan0_signal')?.config).toMatchObject({ device_class: 'signal_strength', unit_of_measurement: 'dBm' });
    expect(p.get('boot_time')?.config).toMatchObject({ device_class: 'timestamp', entity_category: 'diagnostic' });
    expect(p.get('boot_time')?.config).not.toHaveProperty('state_class');
    const flags = es.filter((e) => e.component === 'binary_sensor');
    expect(flags.map((e) => e.part)).toEqual([
      'under_voltage',
      'under_voltage_since_boot',
      'frequency_capped',
      'throttled',
      'soft_temp_limit',
    ]);
    for (const f of flags) expect(f.config).toMatchObject({ device_class: 'problem', entity_category: 'diagnostic' });
    // Parts are unique: each is its own unique_id.
    expect(new Set(es.map((e) => e.part)).size).toBe(es.length);
    for (const e of es) {
      expect(schemaProblems(e.component, e.config), e.part).toEqual([]);
    }
  });

  it('with throttling off (not a Pi) there are no flags', () => {
    expect(entities(OPTIONS.x86).filter((e) => e.component === 'binary_sensor')).toEqual([]);
  });

  for (const machine of ['pi4', 'pi5', 'x86'] as const) {
    it(`render the state published on the ${machine} as HA takes it, and None before the first read`, async () => {
      const es = entities(OPTIONS[machine]);
      const t = await makeTestDevice<unknown, HostDevice>(hostKind, {
        options: { readMs: 3_600_000, ...OPTIONS[machine] },
        sysfs: await sysTree(machine),
        procfs: await procTree(machine),
        kernel: mountsOf(machine),
      });
      const before = JSON.stringify(t.device.state());
      for (const e of es)
        expect(await stateProblems(templates, e.component, e.config, before), `${e.part} before`).toEqual({ value: 'None', problems: [] });
      await t.device.open();
      const state = JSON.stringify(await t.run('get'));
      const rendered: Record<string, string> = {};
      for (const e of es) {
        const r = await stateProblems(templates, e.component, e.config, state);
        expect(r.problems, e.part).toEqual([]);
        rendered[e.part ?? ''] = r.value;
      }
      if (machine === 'pi4') {
        expect(rendered).toMatchObject({
          cpu_temperature: '48.686',
          memory_available: String((3101512 * 1024) / 1048576),
          disk_root_used: '30.6',
          wlan0_signal: '-54',
          boot_time: '2024-05-29T16:26:40.000Z',
          under_voltage: 'OFF',
          under_voltage_since_boot: 'ON',
          throttled: 'OFF',
          // Rates need two reads: unknown after the first, not 0.
          eth0_in: 'None',
          cpu_usage: 'None',
        });
      }
      if (machine === 'pi5') expect(rendered.wlan0_signal).toBe('None');
      // The board is the device block's model (a text sensor would show "None" before the first read).
      const hardware = (s: Record<string, unknown> | undefined) =>
        kindDeclaration(hostKind, T, 'host', OPTIONS[machine], false, s).hardware;
      expect(hardware(undefined)?.model).toBeUndefined();
      expect(hardware(JSON.parse(state) as Record<string, unknown>)?.model).toBe(
        { pi4: 'Raspberry Pi 4 Model B Rev 1.4', pi5: 'Raspberry Pi 5 Model B Rev 1.0', x86: 'Micro-Star International Co., Ltd. MS-7D25' }[
          machine
        ],
      );
      t.abort.abort();
    });
  }
});
