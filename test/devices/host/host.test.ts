/**
 * `host` on the recorded trees of a Raspberry Pi 4, a Pi 5 and an x86 box
 * (test/fixtures/trees), with statfs answered from what was recorded there:
 * every item read and decoded as proc(5), the thermal ABI and the firmware
 * driver print it (the expected figures are worked out by hand from the
 * files), rates from two reads, and the failure modes — an unreadable file,
 * a failing statfs, a missing get_throttled, counters that go back — each
 * leaving that item null with one read_failed event and the rest published.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HostDevice, HostState } from '../../../src/devices/host/device.js';
import { hostKind } from '../../../src/devices/host/kind.js';
import { counterDelta, decodeThrottled, parseMounts, parseWireless } from '../../../src/devices/host/readings.js';
import { archByName } from '../../../src/kernel/arch.js';
import type { SimSysfs } from '../../../src/kernel/sysfs-sim.js';
import type { SimMounts } from '../../../src/kernel/statfs-sim.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';
import { mountsOf, procTree, sysTree, type Machine } from '../../helpers/recorded-trees.js';

interface Host {
  t: TestDevice<HostDevice>;
  sys: SimSysfs;
  proc: SimSysfs;
  mounts: SimMounts;
  get(): Promise<HostState>;
}

async function host(machine: Machine, options: Record<string, unknown> = {}): Promise<Host> {
  const sys = await sysTree(machine);
  const proc = await procTree(machine);
  const mounts = mountsOf(machine);
  const t = await makeTestDevice<unknown, HostDevice>(hostKind, {
    options: { readMs: 3_600_000, ...options },
    sysfs: sys,
    procfs: proc,
    kernel: mounts,
  });
  await t.device.open();
  return { t, sys, proc, mounts, get: async () => (await t.run('get')) as HostState };
}

beforeEach(() => {
  // Rates divide by the time between reads: the test says how much passed.
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-06-01T12:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('host on a Raspberry Pi 4', () => {
  it('reads every item as the kernel prints it', async () => {
    const h = await host('pi4', { mounts: ['/', '/boot/firmware'], interfaces: ['eth0', 'wlan0'], wifi: ['wlan0'] });
    const s = await h.get();
    expect(s.model).toBe('Raspberry Pi 4 Model B Rev 1.4');
    expect(s.bootTime).toBe('2024-05-29T16:26:40.000Z');
    expect(s.cpu).toEqual({
      temperature: 48.686,
      zone: 'cpu-thermal',
      usagePercent: null,
      load1: 0.52,
      load5: 0.58,
      load15: 0.59,
      frequencyMHz: 1500,
    });
    // 0x50000: bits 16 and 18, under-voltage and throttling have occurred since boot; nothing now.
    expect(s.throttled).toEqual({
      raw: '0x50000',
      underVoltage: false,
      frequencyCapped: false,
      throttled: false,
      softTempLimit: false,
      underVoltageOccurred: true,
      frequencyCappedOccurred: false,
      throttledOccurred: true,
      softTempLimitOccurred: false,
    });
    // (3884180 − 3101512) / 3884180 kB.
    expect(s.memory).toEqual({ totalBytes: 3884180 * 1024, availableBytes: 3101512 * 1024, usedPercent: 20.2 });
    // df's arithmetic: used 2207296 blocks of 4 KiB over used + available 5020000, rounded up.
    expect(s.disks['/']).toEqual({
      totalBytes: 7607296 * 4096,
      usedBytes: 2207296 * 4096,
      availableBytes: 5020000 * 4096,
      usedPercent: 30.6,
    });
    expect(s.disks['/boot/firmware']?.usedPercent).toBe(14.1);
    expect(s.network.eth0).toEqual({ rxBytesPerS: null, txBytesPerS: null, rxBytes: 987654321, txBytes: 123456789 });
    expect(s.wifi).toEqual({ wlan0: { signalDbm: -54, quality: 56 } });
    expect(h.t.recorded.events).toEqual([]);
    h.t.abort.abort();
  });

  it('rates and CPU usage are the change since the last read; a counter that goes back gives none', async () => {
    const h = await host('pi4', { interfaces: ['eth0'] });
    vi.setSystemTime(Date.now() + 10_000);
    const dev = await h.proc.read('net/dev');
    h.proc.set('net/dev', dev.replace('987654321', String(987654321 + 125_000)).replace('123456789', String(123456789 + 5_000)));
    // 400 jiffies pass on 4 cores, 100 of them busy (user): 25 %.
    const stat = await h.proc.read('stat');
    h.proc.set('stat', stat.replace('cpu  1000000 2000 300000 30000000', 'cpu  1000100 2000 300000 30000300'));
    const s = await h.get();
    expect(s.network.eth0).toMatchObject({ rxBytesPerS: 12_500, txBytesPerS: 500 });
    expect(s.cpu.usagePercent).toBe(25);
    // The interface went down and up: its counters start again from 0.
    vi.setSystemTime(Date.now() + 10_000);
    h.proc.set('net/dev', dev.replace('987654321', '1000'));
    expect((await h.get()).network.eth0).toMatchObject({ rxBytesPerS: null, rxBytes: 1000 });
    h.t.abort.abort();
  });

  it('a 32-bit kernel: a counter that wraps at 2^32 gives the right rate, a restart far from it gives none', async () => {
    const h = await host('pi4', { interfaces: ['eth0'] });
    h.mounts.kernelArch = archByName('armhf');
    const dev = await h.proc.read('net/dev');
    const rx = (n: number): void => h.proc.set('net/dev', dev.replace('987654321', String(n)));
    const next = async (n: number): Promise<HostState['network'][string] | undefined> => {
      vi.setSystemTime(Date.now() + 10_000);
      rx(n);
      return (await h.get()).network.eth0;
    };
    await next(2 ** 32 - 100_000);
    // 100 000 bytes up to the wrap and 150 000 after it, in 10 s.
    expect(await next(150_000)).toMatchObject({ rxBytesPerS: 25_000, rxBytes: 150_000 });
    // The driver was reloaded: from 150 000 back to 1 000 is no short way round 2^32.
    expect(await next(1_000)).toMatchObject({ rxBytesPerS: null, rxBytes: 1_000 });
    expect(await next(51_000)).toMatchObject({ rxBytesPerS: 5_000 });
    // A counter past 2^32 is a driver's 64-bit one: going back is a restart even on a 32-bit kernel.
    await next(2 ** 33);
    expect(await next(100)).toMatchObject({ rxBytesPerS: null });
    // The same step round 2^32 on a 64-bit kernel, where every counter is 64 bits, is a restart.
    h.mounts.kernelArch = archByName('aarch64');
    await next(2 ** 32 - 100_000);
    expect(await next(150_000)).toMatchObject({ rxBytesPerS: null });
    h.t.abort.abort();
  });

  it('a configured zone that is not there is read_failed ENOENT naming the zones; a zone that turns up later is read', async () => {
    const h = await host('pi4', { zone: 'soc-thermal' });
    const s = await h.get();
    expect(s.cpu).toMatchObject({ temperature: null, zone: null, load1: 0.52 });
    expect(h.t.recorded.events.map((e) => [e.type, e.what, e.error])).toEqual([
      [
        'read_failed',
        'cpu.temperature',
        expect.objectContaining({
          errno: 'ENOENT',
          message: expect.stringMatching(/'soc-thermal' not found.*thermal_zone0 \(cpu-thermal\)/),
        }),
      ],
    ]);
    // The driver binds late (a module loaded after the agent started): the zone is found at the next read.
    const zone = 'devices/virtual/thermal/thermal_zone1';
    h.sys.file(`${zone}/type`, 'soc-thermal\n');
    h.sys.file(`${zone}/temp`, '51200\n');
    h.sys.link('class/thermal/thermal_zone1', `../../${zone}`);
    expect((await h.get()).cpu).toMatchObject({ temperature: 51.2, zone: 'soc-thermal' });
    expect(h.t.recorded.events.at(-1)).toMatchObject({ type: 'read_ok', what: 'cpu.temperature' });
    h.t.abort.abort();
  });

  it('under-voltage now, then gone: the flags follow get_throttled', async () => {
    const h = await host('pi4');
    h.sys.set('devices/platform/soc/soc:firmware/get_throttled', '50005\n');
    expect((await h.get()).throttled).toMatchObject({ raw: '0x50005', underVoltage: true, throttled: true, frequencyCapped: false });
    h.sys.set('devices/platform/soc/soc:firmware/get_throttled', '50000\n');
    expect((await h.get()).throttled).toMatchObject({ underVoltage: false, underVoltageOccurred: true });
    h.t.abort.abort();
  });

  it('an unreadable file or a failing statfs is that item null and one read_failed event; the rest is published', async () => {
    const h = await host('pi4', { mounts: ['/', '/boot/firmware'] });
    h.proc.deny('meminfo', 'EACCES');
    h.mounts.fail('/boot/firmware', 'EIO');
    await h.get();
    const s = await h.get();
    expect(s.memory).toEqual({ totalBytes: null, availableBytes: null, usedPercent: null });
    expect(s.disks['/boot/firmware']).toEqual({ totalBytes: null, usedBytes: null, availableBytes: null, usedPercent: null });
    expect(s.disks['/']?.usedPercent).toBe(30.6);
    expect(s.cpu.temperature).toBe(48.686);
    const failed = h.t.recorded.events.filter((e) => e.type === 'read_failed');
    expect(failed.map((e) => [e.what, (e.error as { errno?: string }).errno])).toEqual([
      ['memory', 'EACCES'],
      ['disk /boot/firmware', 'EIO'],
    ]);
    expect((failed[0]?.error as { message: string }).message).toContain('/proc/meminfo');
    h.proc.deny('meminfo', undefined);
    expect((await h.get()).memory.usedPercent).toBe(20.2);
    expect(h.t.recorded.events.filter((e) => e.type === 'read_ok').map((e) => e.what)).toEqual(['memory']);
    h.t.abort.abort();
  });

  it('a hung network mount is null with one read_failed ETIMEDOUT, is not asked again while its call sleeps, and reads once it answers', async () => {
    const h = await host('pi4', { mounts: ['/', '/mnt/nas'], mountTimeoutMs: 200 });
    h.mounts.hang('/mnt/nas');
    const s = await h.get();
    expect(s.disks['/mnt/nas']).toEqual({ totalBytes: null, usedBytes: null, availableBytes: null, usedPercent: null });
    expect(s.disks['/']?.usedPercent).toBe(30.6);
    expect(s.memory.usedPercent).toBe(20.2);
    expect(h.mounts.asleep('/mnt/nas')).toBe(1);
    // Two more reads while the first call still sleeps in the kernel: no second call, no second event.
    await h.get();
    expect((await h.get()).disks['/mnt/nas']?.usedPercent).toBeNull();
    expect(h.mounts.asleep('/mnt/nas')).toBe(1);
    expect(h.t.recorded.events.map((e) => [e.type, e.what, (e.error as { errno?: string } | undefined)?.errno])).toEqual([
      ['read_failed', 'disk /mnt/nas', 'ETIMEDOUT'],
    ]);
    expect((h.t.recorded.events[0]?.error as { message: string }).message).toMatch(/statfs on \/mnt\/nas did not answer within 200 ms/);
    // The server is back: the sleeping call returns, and the next read asks again and gets the numbers.
    h.mounts.answer('/mnt/nas');
    expect((await h.get()).disks['/mnt/nas']?.usedPercent).toBe(30.6);
    expect(h.t.recorded.events.at(-1)).toMatchObject({ type: 'read_ok', what: 'disk /mnt/nas' });
    h.t.abort.abort();
  });

  it('a mount listed twice is asked once per read and read for both, with no event', async () => {
    const h = await host('pi4', { mounts: ['/', '/mnt/nas', '/mnt/nas'] });
    const calls = h.mounts.calls;
    const s = await h.get();
    expect(s.disks['/mnt/nas']?.usedPercent).toBe(30.6);
    expect(h.mounts.calls - calls).toBe(2);
    expect(h.t.recorded.events).toEqual([]);
    h.t.abort.abort();
  });

  it('closed while a mount hangs: the read ends at once and publishes nothing after the close', async () => {
    const h = await host('pi4', { mounts: ['/', '/mnt/nas'], mountTimeoutMs: 20_000 });
    h.mounts.hang('/mnt/nas');
    const changes = h.t.recorded.stateChanges;
    const read = h.get();
    await vi.waitFor(() => expect(h.mounts.asleep('/mnt/nas')).toBe(1), { timeout: 60_000, interval: 5 });
    await h.t.device.close();
    // Without the close ending it, this read would wait out the 20 s and publish a read_failed after the close.
    await read;
    expect(h.t.recorded.events).toEqual([]);
    expect(h.t.recorded.stateChanges).toBe(changes);
    h.mounts.answer('/mnt/nas');
    h.t.abort.abort();
  });

  it('a get_throttled that disappears (the firmware driver unbound) is null, not a stale flag', async () => {
    const h = await host('pi4');
    h.sys.remove('devices/platform/soc/soc:firmware/get_throttled');
    const s = await h.get();
    expect(s.throttled).toBeNull();
    expect(h.t.recorded.events.map((e) => [e.type, e.what, (e.error as { errno?: string }).errno])).toEqual([
      ['read_failed', 'throttled', 'ENOENT'],
    ]);
    h.t.abort.abort();
  });
});

describe('host on a Raspberry Pi 5 and an x86 box', () => {
  it('a Pi 5 without get_throttled has no flags; a Wi-Fi interface that is down has no signal', async () => {
    const h = await host('pi5');
    const s = await h.get();
    expect(s.model).toBe('Raspberry Pi 5 Model B Rev 1.0');
    expect(s.cpu).toMatchObject({ temperature: 55.35, frequencyMHz: 2400, load1: 1.08 });
    expect(s.throttled).toBeNull();
    expect(s.wifi).toEqual({ wlan0: { signalDbm: null, quality: null } });
    expect(s.memory.usedPercent).toBe(10);
    expect(h.t.recorded.events).toEqual([]);
    h.t.abort.abort();
  });

  it('an x86 box: the board from DMI, the CPU package’s zone before ACPI’s, its own interface names', async () => {
    const h = await host('x86', { mounts: ['/', '/srv/data'], interfaces: ['enp3s0'], wifi: ['wlp2s0'] });
    const s = await h.get();
    expect(s.model).toBe('Micro-Star International Co., Ltd. MS-7D25');
    expect(s.cpu).toMatchObject({ temperature: 45, zone: 'x86_pkg_temp', frequencyMHz: 3600 });
    expect(s.disks['/srv/data']?.usedPercent).toBe(94.8);
    expect(s.network.enp3s0?.rxBytes).toBe(123456789012);
    expect(s.wifi.wlp2s0).toEqual({ signalDbm: -61, quality: 49 });
    expect(s.bootTime).toBe('2024-05-18T02:40:00.000Z');
    h.t.abort.abort();
  });

  it('zone names the zone when the default is not the one wanted', async () => {
    const h = await host('x86', { zone: 'acpitz' });
    expect((await h.get()).cpu).toMatchObject({ temperature: 27.8, zone: 'acpitz' });
    h.t.abort.abort();
  });
});

describe('the parsers', () => {
  it('decode get_throttled bit by bit, and refuse what is not hex', () => {
    expect(decodeThrottled('0x8\n')).toMatchObject({ softTempLimit: true, underVoltage: false });
    expect(decodeThrottled('e0000')).toMatchObject({ frequencyCappedOccurred: true, throttledOccurred: true, softTempLimitOccurred: true });
    expect(decodeThrottled('')).toBeUndefined();
    expect(decodeThrottled('throttled=0x0')).toBeUndefined();
  });

  it('/proc/mounts: only filesystems that hold data, octal escapes decoded', () => {
    const text = 'proc /proc proc rw 0 0\n/dev/sda1 /media/usb\\040stick vfat rw 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/root / ext4 rw 0 0\n';
    expect(parseMounts(text)).toEqual(['/media/usb stick', '/']);
  });

  it('/proc/mounts: a block device once, its bind mounts and subvolumes left out (statfs gives them the same numbers)', () => {
    const text =
      '/dev/mmcblk0p2 / ext4 rw 0 0\n/dev/mmcblk0p2 /var/log ext4 rw 0 0\n/dev/sda1 /srv btrfs rw,subvol=/srv 0 0\n' +
      '/dev/sda1 /home btrfs rw,subvol=/home 0 0\nnas:/export /mnt/nas nfs4 rw 0 0\n';
    expect(parseMounts(text)).toEqual(['/', '/srv', '/mnt/nas']);
  });

  it('counter deltas straddling 2^32: a wrap of a 32-bit counter, a restart, a 64-bit counter', () => {
    expect(counterDelta(2 ** 32 - 1, 0, 32)).toBe(1);
    expect(counterDelta(2 ** 32 - 10, 5, 32)).toBe(15);
    expect(counterDelta(2 ** 32 - 10, 5, 64)).toBeUndefined();
    // Half the range or more the way round is a restart, not a wrap.
    expect(counterDelta(2 ** 31, 0, 32)).toBeUndefined();
    expect(counterDelta(2 ** 31 + 1, 0, 32)).toBe(2 ** 31 - 1);
    expect(counterDelta(2 ** 32 + 5, 3, 32)).toBeUndefined();
    expect(counterDelta(7, 7, 32)).toBe(0);
  });

  it('/proc/net/wireless: the level with or without the trailing dot', () => {
    const head = 'Inter-| sta-|   Quality        |\n face | tus | link level noise |\n';
    expect(parseWireless(`${head} wlan0: 0000   70.  -40.  -256  0 0 0 0 0 0\n  wlan1: 0000   30   -80   -95  0 0 0 0 0 0\n`)).toEqual(
      new Map([
        ['wlan0', { quality: 70, signalDbm: -40 }],
        ['wlan1', { quality: 30, signalDbm: -80 }],
      ]),
    );
  });
});

describe('host with sim: true', () => {
  it('is a Pi 4 whose numbers move: two reads give rates, a boot time and the SD card filling', async () => {
    vi.useRealTimers();
    const t = await makeTestDevice<unknown, HostDevice>(hostKind, { sim: true, options: { readMs: 3_600_000 } });
    await t.device.open();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5_000 });
    const s = (await t.run('get')) as HostState;
    expect(s.model).toMatch(/^Raspberry Pi 4/);
    expect(s.cpu.temperature).toBeGreaterThan(40);
    expect(s.cpu.usagePercent).toBeGreaterThan(0);
    expect(s.network.eth0?.rxBytesPerS).toBeGreaterThan(0);
    expect(s.wifi.wlan0?.signalDbm).toBeLessThan(0);
    expect(s.throttled).toMatchObject({ raw: '0x0', underVoltage: false });
    expect(s.disks['/']?.usedPercent).toBeGreaterThan(25);
    expect(Date.parse(s.bootTime as string)).toBeLessThan(Date.now());
    expect(t.recorded.events).toEqual([]);
    t.abort.abort();
  });
});
