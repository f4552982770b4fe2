/**
 * `dev2mqtt probe` over a fake machine: a sysfs tree and a /dev tree in a temp
 * dir (Raspberry Pi LEDs, USB and on-board serial ports, two tape drives), and
 * GPIO chips answered by the gpiochip sim kernel at those /dev paths. The
 * starter config it prints must pass `check-config`, run as a user would.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeCommand } from '../../src/cli/probe.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { SimGpioKernel } from '../../src/devices/gpio/sim-kernel.js';
import { requestLine } from '../../src/devices/gpio/uapi.js';
import { O } from '../../src/kernel/kernel.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import type { ChipFound } from '../../src/devices/gpio/probe.js';
import type { LedFound } from '../../src/devices/led/probe.js';
import type { SerialFound } from '../../src/devices/serial/probe.js';
import type { TapeFound } from '../../src/devices/tape/probe.js';
import { probeHost } from '../../src/probe/scan.js';
import type { StarterConfig } from '../../src/probe/starter.js';
import { tempDir } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';

const THERMAL = fileURLToPath(new URL('../../examples/plugin-kind/thermal.js', import.meta.url));

const root = tempDir('dev2mqtt-probe-');
const sys = path.join(root, 'sys');
const dev = path.join(root, 'dev');
const kinds = new Set(builtinKinds().map((k) => k.kind));

function file(p: string, content = ''): void {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
}
function link(p: string, target: string): void {
  mkdirSync(path.dirname(p), { recursive: true });
  symlinkSync(target, p);
}

function led(name: string, trigger: string, max = '255'): void {
  const d = path.join(sys, 'class/leds', name);
  file(path.join(d, 'brightness'), '0\n');
  file(path.join(d, 'max_brightness'), `${max}\n`);
  file(path.join(d, 'trigger'), `${trigger}\n`);
}

function tty(name: string, driver: string | undefined, type?: string): void {
  file(path.join(dev, name));
  const d = path.join(sys, 'class/tty', name);
  mkdirSync(d, { recursive: true });
  if (driver) link(path.join(d, 'device/driver'), `../../../../bus/platform/drivers/${driver}`);
  if (type !== undefined) file(path.join(d, 'type'), `${type}\n`);
}

beforeAll(() => {
  led('ACT', 'none [mmc0] timer heartbeat');
  led('PWR', 'none timer [default-on] heartbeat', '1');
  led('input3::capslock', '[none] kbd-capslock');
  file(path.join(dev, 'gpiochip0'));
  file(path.join(dev, 'gpiochip4'));
  tty('ttyUSB0', 'ftdi_sio');
  tty('ttyACM0', 'cdc_acm');
  tty('ttyAMA0', 'uart-pl011');
  tty('ttyS0', 'serial8250', '4');
  tty('ttyS1', 'serial8250', '0'); // registered by 8250, no UART behind it
  tty('ttyS2', undefined); // no driver at all
  file(path.join(dev, 'tty'));
  file(path.join(dev, 'ttyUSB'));
  link(path.join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'), '../../ttyUSB0');
  file(path.join(dev, 'nst0'));
  file(path.join(dev, 'st0'));
  file(path.join(dev, 'nst1'));
  const t = path.join(sys, 'class/scsi_tape/nst0/device');
  file(path.join(t, 'vendor'), 'HP      \n');
  file(path.join(t, 'model'), 'Ultrium 5-SCSI  \n');
  file(path.join(t, 'rev'), 'Z6ED\n');
  file(path.join(sys, 'class/thermal/thermal_zone0/type'), 'cpu-thermal\n');
  file(path.join(sys, 'class/thermal/thermal_zone0/temp'), '48312\n');
});

function simKernel(): SimGpioKernel {
  const k = new SimGpioKernel([
    {
      path: path.join(dev, 'gpiochip0'),
      name: 'gpiochip0',
      label: 'pinctrl-bcm2711',
      lineNames: Array.from({ length: 58 }, (_, i) => `GPIO${i}`),
    },
    {
      path: path.join(dev, 'gpiochip4'),
      name: 'gpiochip4',
      label: 'raspberrypi-exp-gpio',
      lineNames: ['BT_ON', 'WL_ON', '', 'STATUS_LED'],
    },
  ]);
  // Something else holds GPIO42 as an output, the way the LED driver holds the ACT line.
  const chip = k.open(path.join(dev, 'gpiochip0'), O.RDWR);
  requestLine(k, chip, 42, 'led', {
    direction: 'out',
    activeLow: false,
    bias: 'as-is',
    drive: 'push-pull',
    edge: 'none',
    debounceUs: 0,
    initial: 0,
  });
  return k;
}

async function probe(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await probeCommand(
    ['--sys-root', sys, '--dev-root', dev, ...args],
    {
      out: (x) => {
        out += x;
      },
      err: () => undefined,
      isTTY: false,
    },
    { kernel: simKernel },
  );
  return { code, out };
}

describe('dev2mqtt probe', () => {
  it('finds LEDs, GPIO chips and lines through the core, serial ports with drivers and tape drives', async () => {
    const r = await probe(['--json']);
    expect(r.code).toBe(0);
    const { found } = JSON.parse(r.out) as {
      found: { leds: LedFound[]; gpiochips: ChipFound[]; serial: SerialFound[]; tapes: TapeFound[]; problems: string[] };
    };
    expect(found.leds).toEqual([
      { name: 'ACT', maxBrightness: 255, trigger: 'mmc0', triggers: ['none', 'mmc0', 'timer', 'heartbeat'] },
      { name: 'input3::capslock', maxBrightness: 255, trigger: 'none', triggers: ['none', 'kbd-capslock'] },
      { name: 'PWR', maxBrightness: 1, trigger: 'default-on', triggers: ['none', 'timer', 'default-on', 'heartbeat'] },
    ]);
    expect(found.gpiochips.map((c) => [c.path, c.name, c.label, c.lines.length])).toEqual([
      [path.join(dev, 'gpiochip0'), 'gpiochip0', 'pinctrl-bcm2711', 58],
      [path.join(dev, 'gpiochip4'), 'gpiochip4', 'raspberrypi-exp-gpio', 4],
    ]);
    expect(found.gpiochips[0]!.lines[17]).toEqual({ offset: 17, name: 'GPIO17', consumer: '', used: false, direction: 'in' });
    expect(found.gpiochips[0]!.lines[42]).toEqual({ offset: 42, name: 'GPIO42', consumer: 'led', used: true, direction: 'out' });
    expect(found.gpiochips[1]!.lines.map((l) => l.name)).toEqual(['BT_ON', 'WL_ON', '', 'STATUS_LED']);
    expect(found.serial).toEqual([
      { path: path.join(dev, 'ttyACM0'), name: 'ttyACM0', driver: 'cdc_acm' },
      { path: path.join(dev, 'ttyAMA0'), name: 'ttyAMA0', driver: 'uart-pl011' },
      { path: path.join(dev, 'ttyS0'), name: 'ttyS0', driver: 'serial8250' },
      {
        path: path.join(dev, 'ttyUSB0'),
        name: 'ttyUSB0',
        driver: 'ftdi_sio',
        byId: path.join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'),
      },
    ]);
    expect(found.tapes).toEqual([
      { path: path.join(dev, 'nst0'), name: 'nst0', vendor: 'HP', model: 'Ultrium 5-SCSI', revision: 'Z6ED' },
      { path: path.join(dev, 'nst1'), name: 'nst1' },
    ]);
    expect(found.problems).toEqual([expect.stringContaining('nst1: no SCSI vendor/model')]);
  });

  it('lists it for a person: chips with free and used lines, ports with their stable names', async () => {
    const r = await probe([]);
    expect(r.out).toContain(`${path.join(dev, 'gpiochip0')}  gpiochip0 'pinctrl-bcm2711'  58 lines, 1 in use`);
    expect(r.out).toContain('in use: 42:GPIO42 (led, out)');
    expect(r.out).toMatch(/free: {3}0:GPIO0 1:GPIO1 .* 17:GPIO17 /);
    expect(r.out).toContain(
      `${path.join(dev, 'ttyUSB0')}  ftdi_sio  ${path.join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0')}`,
    );
    expect(r.out).toContain(`${path.join(dev, 'nst0')}  HP Ultrium 5-SCSI (rev Z6ED)`);
    expect(r.out).toContain('built-in UARTs ttyAMA0, ttyS0 are not in the starter config');
    expect(r.out).toContain('Starter config');
  });

  it('prints a starter config: LEDs, USB serial ports (not the built-in UARTs, one may be the console), tape drives', async () => {
    const { config } = JSON.parse((await probe(['--json'])).out) as { config: StarterConfig };
    const expected = [
      { id: 'act', kind: 'led', name: 'LED ACT', options: { name: 'ACT', sysfsRoot: sys } },
      { id: 'input3-capslock', kind: 'led', name: 'LED input3::capslock', options: { name: 'input3::capslock', sysfsRoot: sys } },
      { id: 'pwr', kind: 'led', name: 'LED PWR', options: { name: 'PWR', sysfsRoot: sys, maxBrightness: 1 } },
      { id: 'ttyacm0', kind: 'serial', name: 'Serial ttyACM0 (cdc_acm)', options: { path: path.join(dev, 'ttyACM0'), baud: 115200 } },
      {
        id: 'ttyusb0',
        kind: 'serial',
        name: 'Serial ttyUSB0 (ftdi_sio)',
        options: { path: path.join(dev, 'serial/by-id/usb-FTDI_FT232R_USB_UART_A1B2C3-if00-port0'), baud: 115200 },
      },
      { id: 'tape0', kind: 'tape', name: 'Tape HP Ultrium 5-SCSI', options: { path: path.join(dev, 'nst0') } },
      { id: 'tape1', kind: 'tape', name: 'Tape nst1', options: { path: path.join(dev, 'nst1') } },
    ].filter((d) => kinds.has(d.kind));
    expect(config.devices).toEqual(expected);
  });

  it('writes a starter config that check-config accepts (the real binary, the real kernel)', () => {
    const out = path.join(root, 'starter.json');
    // The libc kernel meets regular files where the chips should be: ENOTTY, listed, not fatal.
    const r = runCli(['probe', '--sys-root', sys, '--dev-root', dev, '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Starter config written to ${out}`);
    expect(r.stdout).toMatch(/gpiochip0: ioctl GPIO_GET_CHIPINFO_IOCTL on .*gpiochip0 failed: ENOTTY/);
    const check = runCli(['check-config', '-c', out]);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const devices = (JSON.parse(readFileSync(out, 'utf8')) as StarterConfig).devices;
    expect(check.stdout).toContain(`${devices.length} devices`);
    expect(devices.length).toBeGreaterThanOrEqual(3);
    const again = runCli(['probe', '--sys-root', sys, '--dev-root', dev, '-o', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('exists; add --force');
  });

  it("--help lists where each built-in kind looks, taken from the kinds' own probes", async () => {
    const lines = (await probe(['--help'])).out.split('\n');
    const host = probeHost({ sysRoot: '/sys', devRoot: '/dev' }, () => new LibcKernel(), []);
    for (const k of builtinKinds()) if (k.probe) expect(lines, k.kind).toContain(`  ${k.probe.heading(host)}`);
    expect(lines).toContain('  PWM chips (/sys/class/pwm)');
  });

  it('asks a plug-in kind too (--plugin), whose starter devices come with the plug-in in `plugins`', () => {
    const out = path.join(root, 'starter-plugin.json');
    const r = runCli(['probe', '--sys-root', sys, '--dev-root', dev, '--plugin', THERMAL, '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Thermal zones (${path.join(sys, 'class/thermal')})`);
    expect(r.stdout).toContain('thermal_zone0  cpu-thermal  48.312 °C');
    const config = JSON.parse(readFileSync(out, 'utf8')) as StarterConfig;
    expect(config.plugins).toEqual([THERMAL]);
    expect(config.devices).toContainEqual({
      id: 'cpu-thermal-0',
      kind: 'thermal',
      name: 'Temperature cpu-thermal',
      options: { zone: 0, sysfsRoot: sys },
    });
    const check = runCli(['check-config', '-c', out]);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
