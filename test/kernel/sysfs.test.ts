/**
 * The sysfs seam: the real tree (node:fs under a root, reads and writes on
 * the thread pool) and the sim tree (what kernfs does for every model:
 * EACCES for a read-only or write-only attribute, ENOENT, EISDIR, ENODEV for
 * a call in flight when its device goes away, slow show() without blocking
 * the event loop), and recorded trees loaded into the sim.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDisconnect, toErrorBody } from '../../src/devices/errors.js';
import { KernelError } from '../../src/kernel/errors.js';
import { FsSysfs } from '../../src/kernel/sysfs-fs.js';
import { loadTree } from '../../src/kernel/sysfs-recorded.js';
import { SimErrno, SimSysfs, storedUnsigned } from '../../src/kernel/sysfs-sim.js';
import { afterTurns, turnsDuring } from '../helpers/event-loop.js';

const root = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-sysfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function file(rel: string, text: string, mode?: number): void {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  if (mode !== undefined) chmodSync(p, mode);
}

describe('the real sysfs layer (FsSysfs)', () => {
  const sysfs = new FsSysfs(root);

  it('reads an attribute whole, newline and all; value() trims it, number() parses it or says EINVAL with the path', async () => {
    file('class/leds/ACT/brightness', '255\n');
    file('class/leds/ACT/trigger', 'none [mmc0]\n');
    expect(await sysfs.read('class/leds/ACT/brightness')).toBe('255\n');
    expect(await sysfs.value('class/leds/ACT/trigger')).toBe('none [mmc0]');
    expect(await sysfs.number('class/leds/ACT/brightness')).toBe(255);
    await expect(sysfs.number('class/leds/ACT/trigger')).rejects.toMatchObject({
      code: 'EINVAL',
      path: path.join(root, 'class/leds/ACT/trigger'),
    });
  });

  it('reads more than a page, as a procfs table may be', async () => {
    const big = `${'cpu0 1 2 3 4 5 6 7 8 9 10\n'.repeat(2000)}`;
    file('proc/stat', big);
    expect(await sysfs.read('proc/stat')).toBe(big);
  });

  it('writes one value over the old one, and never creates a file (ENOENT, as sysfs)', async () => {
    file('class/leds/ACT/brightness', '255\n');
    await sysfs.write('class/leds/ACT/brightness', '5');
    expect(readFileSync(path.join(root, 'class/leds/ACT/brightness'), 'utf8')).toBe('5');
    const e = await sysfs.write('class/leds/ACT/delay_on', '100').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelError);
    expect(e).toMatchObject({ code: 'ENOENT', syscall: 'open', path: path.join(root, 'class/leds/ACT/delay_on') });
    expect(isDisconnect(e)).toBe(true);
    expect(toErrorBody(e)).toMatchObject({ code: 'device_error', errno: 'ENOENT' });
  });

  it('a directory is EISDIR; a listing is in natural order; links resolve to where the device lives', async () => {
    await expect(sysfs.read('class/leds/ACT')).rejects.toMatchObject({ code: 'EISDIR' });
    for (const n of ['pwm10', 'pwm2', 'npwm']) file(`class/pwm/pwmchip0/${n}`, '');
    expect(await sysfs.list('class/pwm/pwmchip0')).toEqual(['npwm', 'pwm2', 'pwm10']);
    mkdirSync(path.join(root, 'devices/platform/pwm'), { recursive: true });
    symlinkSync('../../devices/platform/pwm', path.join(root, 'class/pwm/pwmchip1'));
    expect(await sysfs.realpath('class/pwm/pwmchip1')).toBe(path.join(root, 'devices/platform/pwm'));
    expect(await sysfs.readlink('class/pwm/pwmchip1')).toBe('../../devices/platform/pwm');
    expect(await sysfs.entry('class/pwm/pwmchip1')).toBe('dir');
    expect(await sysfs.entry('class/pwm/nothing')).toBeUndefined();
  });

  it('reads off the event loop: an attribute that takes its time (a FIFO here) leaves the loop running', async () => {
    const fifo = path.join(root, 'w1_slave');
    execFileSync('mkfifo', [fifo]);
    // Our own writer end keeps open(2) from waiting for one; the read then waits for data, on the pool.
    const writer = openSync(fifo, 'r+');
    try {
      const reading = sysfs.read('w1_slave');
      // The data comes only after the loop has turned five times while the read waits: a read that held the
      // loop would never see it (the test would time out), however loaded the machine is.
      let wrote = false;
      const late = afterTurns(5, () => {
        writeSync(writer, '72 01 4b 46 7f ff 0e 10 57 t=23125\n');
        wrote = true;
      });
      const { value, turns } = await turnsDuring(reading);
      await late;
      expect(wrote).toBe(true);
      expect(value).toBe('72 01 4b 46 7f ff 0e 10 57 t=23125\n');
      expect(turns).toBeGreaterThanOrEqual(4);
    } finally {
      closeSync(writer);
    }
  });
});

describe('the sim sysfs layer (SimSysfs)', () => {
  function chip(): SimSysfs {
    const tree = new SimSysfs('/sys');
    tree.attr('devices/platform/pwm/pwm/pwmchip0/npwm', { show: () => '2\n' });
    tree.attr('devices/platform/pwm/pwm/pwmchip0/export', {
      store: (v) => {
        if (storedUnsigned(v) >= 2) throw new SimErrno('ENODEV');
      },
    });
    tree.link('class/pwm/pwmchip0', '../../devices/platform/pwm/pwm/pwmchip0');
    return tree;
  }

  it('kernfs rules: read-only and write-only attributes are EACCES at open, for root too; paths are the real ones', async () => {
    const tree = chip();
    await expect(tree.write('class/pwm/pwmchip0/npwm', '3')).rejects.toMatchObject({
      code: 'EACCES',
      syscall: 'open',
      path: '/sys/class/pwm/pwmchip0/npwm',
    });
    await expect(tree.read('class/pwm/pwmchip0/export')).rejects.toMatchObject({ code: 'EACCES', syscall: 'open' });
    await expect(tree.access('class/pwm/pwmchip0/export', 'write')).resolves.toBeUndefined();
    await expect(tree.access('class/pwm/pwmchip0/npwm', 'write')).rejects.toMatchObject({ code: 'EACCES' });
    await expect(tree.read('class/pwm/pwmchip0/nothing')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    await expect(tree.read('class/pwm/pwmchip0')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(tree.list('class/pwm/pwmchip0/npwm')).rejects.toMatchObject({ code: 'ENOTDIR' });
    // A store() that refuses: its errno on the write(2), not on open.
    await expect(tree.write('class/pwm/pwmchip0/export', '7')).rejects.toMatchObject({ code: 'ENODEV', syscall: 'write' });
  });

  it('follows links (relative, absolute, through ..) and says where things really are', async () => {
    const tree = chip();
    tree.link('bus/platform/devices/pwm', '/devices/platform/pwm');
    expect(await tree.realpath('class/pwm/pwmchip0')).toBe('/sys/devices/platform/pwm/pwm/pwmchip0');
    expect(await tree.value('bus/platform/devices/pwm/pwm/pwmchip0/npwm')).toBe('2');
    expect(await tree.value('class/pwm/pwmchip0/../pwmchip0/npwm')).toBe('2');
    expect(await tree.readlink('class/pwm/pwmchip0')).toBe('../../devices/platform/pwm/pwm/pwmchip0');
    await expect(tree.readlink('class/pwm/pwmchip0/npwm')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(await tree.list('class/pwm/pwmchip0')).toEqual(['export', 'npwm']);
  });

  it('a slow show() is waited for: the event loop keeps turning', async () => {
    const tree = new SimSysfs();
    // show() answers only after five turns of the loop, so the count does not depend on the machine's speed.
    tree.attr('bus/w1/devices/28-0000/w1_slave', {
      show: () => afterTurns(5, () => 't=21000\n'),
    });
    const { value, turns } = await turnsDuring(tree.read('bus/w1/devices/28-0000/w1_slave'));
    expect(value).toBe('t=21000\n');
    expect(turns).toBeGreaterThanOrEqual(4);
  });

  it('a call in flight when its device goes away ends in ENODEV; afterwards the path is ENOENT', async () => {
    const tree = new SimSysfs();
    let answer!: (t: string) => void;
    tree.attr('bus/w1/devices/28-0000/w1_slave', { show: () => new Promise<string>((r) => (answer = r)) });
    const reading = tree.read('bus/w1/devices/28-0000/w1_slave');
    tree.remove('bus/w1/devices/28-0000');
    answer('t=21000\n');
    await expect(reading).rejects.toMatchObject({ code: 'ENODEV', syscall: 'read' });
    await expect(tree.read('bus/w1/devices/28-0000/w1_slave')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('unplug and replug put back the same device, links and all; deny refuses an open with the errno given', async () => {
    const tree = chip();
    tree.unplug('class/pwm/pwmchip0');
    await expect(tree.read('class/pwm/pwmchip0/npwm')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tree.readlink('class/pwm/pwmchip0')).toBe('../../devices/platform/pwm/pwm/pwmchip0');
    tree.replug('class/pwm/pwmchip0');
    expect(await tree.value('class/pwm/pwmchip0/npwm')).toBe('2');
    tree.deny('class/pwm/pwmchip0/export', 'EACCES');
    await expect(tree.write('class/pwm/pwmchip0/export', '0')).rejects.toMatchObject({ code: 'EACCES' });
    tree.deny('class/pwm/pwmchip0/export', undefined);
    await tree.write('class/pwm/pwmchip0/export', '0');
  });

  it('set() changes a plain value in place; a read in flight is not disturbed', async () => {
    const tree = new SimSysfs();
    tree.file('class/thermal/thermal_zone0/temp', '45000\n');
    const before = tree.read('class/thermal/thermal_zone0/temp');
    tree.set('class/thermal/thermal_zone0/temp', '47000\n');
    await expect(before).resolves.toBe('45000\n');
    expect(await tree.number('class/thermal/thermal_zone0/temp')).toBe(47000);
  });
});

describe('a recorded tree as a sim (loadTree)', () => {
  it('keeps the texts, writability by the file mode, and the links', async () => {
    const rec = path.join(root, 'recorded');
    mkdirSync(path.join(rec, 'devices/platform/soc/hwmon/hwmon0'), { recursive: true });
    writeFileSync(path.join(rec, 'devices/platform/soc/hwmon/hwmon0/temp1_input'), '48312\n');
    chmodSync(path.join(rec, 'devices/platform/soc/hwmon/hwmon0/temp1_input'), 0o444);
    writeFileSync(path.join(rec, 'devices/platform/soc/hwmon/hwmon0/pwm1'), '128\n');
    mkdirSync(path.join(rec, 'class/hwmon'), { recursive: true });
    symlinkSync('../../devices/platform/soc/hwmon/hwmon0', path.join(rec, 'class/hwmon/hwmon0'));
    const tree = await loadTree(rec);
    expect(await tree.number('class/hwmon/hwmon0/temp1_input')).toBe(48312);
    await expect(tree.write('class/hwmon/hwmon0/temp1_input', '1')).rejects.toMatchObject({ code: 'EACCES' });
    await tree.write('class/hwmon/hwmon0/pwm1', '200\n');
    expect(await tree.value('class/hwmon/hwmon0/pwm1')).toBe('200');
    expect(await tree.realpath('class/hwmon/hwmon0')).toBe('/sys/devices/platform/soc/hwmon/hwmon0');
  });
});
