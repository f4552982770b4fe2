/**
 * What `host` tells `dev2mqtt probe`: over each recorded tree, the board,
 * the CPU's zone, whether get_throttled is there, the mounts that hold data,
 * the interfaces worth charting and those with Wi-Fi; the starter config's
 * one host device, which loads and opens on the same tree.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { sandboxFor } from '../../../src/deploy/sandbox.js';
import { builtinKinds } from '../../../src/devices/builtin.js';
import type { HostState } from '../../../src/devices/host/device.js';
import { hostKind } from '../../../src/devices/host/kind.js';
import { hostProbe } from '../../../src/devices/host/probe.js';
import type { HostFound } from '../../../src/devices/host/probe.js';
import { KindRegistry } from '../../../src/devices/registry.js';
import type { StarterConfig } from '../../../src/probe/starter.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { mountsOf, procTree, sysTree, treeDir, probeTree } from '../../helpers/recorded-trees.js';

const probe = probeTree;

type Probed = { found: { host: HostFound[]; problems: string[] }; config: StarterConfig };

describe('host: probe', () => {
  it('finds what each machine has', async () => {
    const pi4 = (JSON.parse(await probe('pi4')) as Probed).found;
    expect(pi4.host).toEqual([
      {
        model: 'Raspberry Pi 4 Model B Rev 1.4',
        zone: 'cpu-thermal',
        throttled: path.join(treeDir('pi4', 'sys'), 'bus/platform/drivers/raspberrypi-firmware/soc:firmware/get_throttled'),
        mounts: ['/', '/boot/firmware'],
        interfaces: ['eth0', 'wlan0'],
        wifi: ['wlan0'],
      },
    ]);
    expect(pi4.problems).toEqual([]);
    const pi5 = (JSON.parse(await probe('pi5')) as Probed).found.host[0];
    expect(pi5).toMatchObject({ model: 'Raspberry Pi 5 Model B Rev 1.0', wifi: [] });
    expect(pi5?.throttled).toBeUndefined();
    const x86 = (JSON.parse(await probe('x86')) as Probed).found.host[0];
    // docker0 is a bridge no one charts; the package zone is the CPU's.
    expect(x86).toMatchObject({
      zone: 'x86_pkg_temp',
      mounts: ['/', '/boot/efi', '/srv/data'],
      interfaces: ['enp3s0', 'wlp2s0'],
      wifi: ['wlp2s0'],
    });
  });

  it('writes one host device into a starter config that loads and opens on the same tree', async () => {
    for (const machine of ['pi4', 'x86'] as const) {
      const { config } = JSON.parse(await probe(machine)) as Probed;
      const loaded = await loadConfig({
        object: config as unknown as Record<string, unknown>,
        registry: new KindRegistry(builtinKinds()),
        env: {},
      });
      const hosts = loaded.devices.filter((d) => d.kind === 'host');
      expect(hosts.map((d) => d.id)).toEqual(['host']);
      const options = hosts[0]?.options as Record<string, unknown>;
      expect(options.throttling).toBe(machine === 'pi4');
      const t = await makeTestDevice(hostKind, {
        options: { ...options, readMs: 3_600_000 },
        sysfs: await sysTree(machine),
        procfs: await procTree(machine),
        kernel: mountsOf(machine),
      });
      await t.device.open();
      const s = (await t.run('get')) as HostState;
      expect(Object.values(s.disks).every((d) => typeof d.usedPercent === 'number')).toBe(true);
      expect(t.recorded.events).toEqual([]);
      t.abort.abort();
      expect(sandboxFor(hosts, new KindRegistry(builtinKinds()))).toEqual({ deviceAllow: [], readWritePaths: [], groups: [], notes: [] });
    }
  });

  it('a machine with more data mounts than a host device takes gets a starter config that still loads', async () => {
    const proc = await procTree('pi4');
    proc.set(
      'mounts',
      Array.from({ length: 40 }, (_, i) => `/dev/sd${String.fromCharCode(97 + (i % 26))}${i} /srv/d${i} ext4 rw 0 0\n`).join(''),
    );
    const problems: string[] = [];
    const host = {
      sysfs: await sysTree('pi4'),
      procfs: proc,
      dev: proc,
      kernel: () => {
        throw new Error('no device node is opened here');
      },
      problem: (text: string) => void problems.push(text),
    };
    const found = await hostProbe.scan(host);
    const [starter] = hostProbe.starter?.(found, host) ?? [];
    expect((starter?.options as { mounts: string[] }).mounts).toHaveLength(32);
    expect(problems).toEqual([expect.stringMatching(/40 mounts hold data; the starter config has the first 32/)]);
    expect(hostKind.options(false).parse(starter?.options, 'options').ok).toBe(true);
  });

  it('lists it for a person', async () => {
    const out = await probe('pi5', false);
    expect(out).toContain('  board        Raspberry Pi 5 Model B Rev 1.0');
    expect(out).toContain('  throttling   no get_throttled');
    expect(out).toContain('  disks        /, /boot/firmware');
  });

  it('a mount ProtectHome= hides gets a note in the drop-in', () => {
    const parsed = hostKind.options(false).parse({ mounts: ['/', '/home'] });
    if (!parsed.ok) throw new Error('bad options');
    expect(hostKind.sandbox?.(parsed.value, { resolve: () => undefined }).notes?.[0]).toMatch(/ProtectHome=yes hides \/home/);
  });
});
