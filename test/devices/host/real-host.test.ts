/**
 * `host` on this machine's real /proc and /sys, with the real statfs(2):
 * each item agrees with what Node and node:fs read by other routes (sysinfo
 * for memory and load, statfs through node:fs, the uptime for the boot
 * time), and loopback traffic the test makes shows up as a byte rate. Items
 * this machine lacks (no thermal zone, no cpufreq, no Wi-Fi in a container)
 * are null exactly where node:fs finds nothing either.
 */
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { HostDevice, HostState } from '../../../src/devices/host/device.js';
import { hostKind } from '../../../src/devices/host/kind.js';
import { probeHost } from '../../../src/probe/scan.js';
import { makeTestDevice } from '../../helpers/device-context.js';

/** Sends `bytes` over a loopback TCP connection and resolves once the far end has received them all. */
async function loopbackTraffic(bytes: number): Promise<void> {
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const server = createServer((c) => c.on('data', (d: Buffer) => (got += d.length) >= bytes && done()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = connect(port, '127.0.0.1');
  client.end(Buffer.alloc(bytes));
  await all;
  client.destroy();
  await new Promise((r) => server.close(r));
}

describe('host: this machine’s real /proc, /sys and statfs', () => {
  it('agrees with what node reads by other routes, and shows loopback traffic as a rate', async () => {
    const t = await makeTestDevice<unknown, HostDevice>(hostKind, {
      options: { readMs: 3_600_000, mounts: ['/'], interfaces: ['lo'], wifi: [] },
    });
    await t.device.open();
    const first = t.device.state();
    const opened = Date.now();
    await loopbackTraffic(1 << 20);
    // A rate needs a second between the two reads.
    const rest = 1100 - (Date.now() - opened);
    if (rest > 0) await sleep(rest);
    const s = (await t.run('get')) as HostState;

    expect(s.memory.totalBytes).toBe(os.totalmem());
    expect(s.memory.usedPercent).toBeGreaterThan(0);
    expect(s.memory.usedPercent).toBeLessThan(100);
    expect(Math.abs((s.cpu.load1 ?? NaN) - (os.loadavg()[0] ?? NaN))).toBeLessThan(1);
    const bootMs = Date.parse(s.bootTime ?? '');
    expect(Math.abs(bootMs - (Date.now() - os.uptime() * 1000))).toBeLessThan(3000);
    const root = statfsSync('/');
    expect(s.disks['/']?.totalBytes).toBe(root.blocks * root.bsize);
    expect(s.cpu.usagePercent).toBeGreaterThanOrEqual(0);
    expect(s.cpu.usagePercent).toBeLessThanOrEqual(100);
    // A megabyte (and TCP's acknowledgements) in a second or so: lo counts what it carries once, as received.
    expect(s.network.lo?.rxBytesPerS).toBeGreaterThan(100_000);
    expect((s.network.lo?.rxBytes ?? 0) - (first.network.lo?.rxBytes ?? 0)).toBeGreaterThanOrEqual(1 << 20);

    const zones = existsSync('/sys/class/thermal') ? readdirSync('/sys/class/thermal').filter((z) => z.startsWith('thermal_zone')) : [];
    expect(s.cpu.temperature === null).toBe(zones.length === 0);
    expect(s.cpu.frequencyMHz === null).toBe(!existsSync('/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq'));
    expect(t.recorded.events).toEqual([]);
    t.abort.abort();
  });

  it('a mount that is not there is that disk null and read_failed ENOENT, from the real statfs', async () => {
    const t = await makeTestDevice<unknown, HostDevice>(hostKind, {
      options: { readMs: 3_600_000, mounts: ['/', '/dev2mqtt-no-such-mount'], interfaces: [], wifi: [] },
    });
    await t.device.open();
    const s = t.device.state();
    expect(s.disks['/dev2mqtt-no-such-mount']?.usedPercent).toBeNull();
    expect(typeof s.disks['/']?.usedPercent).toBe('number');
    expect(t.recorded.events.map((e) => [e.type, e.what, (e.error as { errno?: string }).errno])).toEqual([
      ['read_failed', 'disk /dev2mqtt-no-such-mount', 'ENOENT'],
    ]);
    t.abort.abort();
  });

  it('a /proc table longer than a page comes whole, though the kernel hands seq_file tables out a page a read', async () => {
    // This process's own memory map: hundreds of lines on any Node, one per mapping, the stack among the last.
    const whole = readFileSync('/proc/self/maps', 'utf8');
    expect(whole.length).toBeGreaterThan(2 * 4096);
    const t = await makeTestDevice<unknown, HostDevice>(hostKind, { options: { mounts: [], interfaces: [], wifi: [] } });
    const probe = probeHost(
      { sysRoot: '/sys', devRoot: '/dev' },
      () => {
        throw new Error('no device node is opened here');
      },
      [],
    );
    for (const procfs of [t.ctx.procfs, probe.procfs]) {
      const text = await procfs.read('self/maps');
      expect(text).toMatch(/\[stack\]\n/);
      expect(text.endsWith('\n')).toBe(true);
      // The map moves as Node allocates: the same table give or take a few mappings.
      expect(Math.abs(text.split('\n').length - whole.split('\n').length)).toBeLessThan(whole.split('\n').length / 5);
    }
    t.abort.abort();
  });
});
