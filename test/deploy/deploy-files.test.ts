/**
 * deploy/: the unit and its device drop-in pass `systemd-analyze verify` (and
 * its offline security review), the scripts pass `bash -n` and shellcheck,
 * the Ansible playbook passes `--syntax-check`, and every host of the example
 * inventory gets a config (rendered by Ansible itself) that check-config accepts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ResolvedDevice } from '../../src/config/load.js';
import { renderDropIn, sandboxFor } from '../../src/deploy/sandbox.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { tempDir } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { requireTool } from '../helpers/tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const UNIT = path.join(REPO, 'deploy/systemd/dev2mqtt.service');
const haveSystemd = requireTool('systemd-analyze', 'verifies the unit');
const haveShellcheck = requireTool('shellcheck', 'lints the install script');
const haveAnsible = requireTool('ansible-playbook', 'checks the playbook');

const kinds = new KindRegistry(builtinKinds());
const dev = (id: string, kind: string, options: Record<string, unknown>, sim = false): ResolvedDevice => ({
  id,
  kind,
  name: id,
  sim,
  options,
});

/** The unit (and a drop-in) in a temp dir, ExecStart pointed at an executable this machine has. */
function unitCopy(dropIn?: string): string {
  const dir = tempDir('dev2mqtt-unit-');
  const unit = path.join(dir, 'dev2mqtt.service');
  const text = readFileSync(UNIT, 'utf8');
  expect(text).toContain('ExecStart=/usr/local/bin/dev2mqtt run --config /etc/dev2mqtt/config.json\n');
  writeFileSync(unit, text.replace('ExecStart=/usr/local/bin/dev2mqtt ', 'ExecStart=/bin/true '));
  if (dropIn !== undefined) {
    mkdirSync(`${unit}.d`);
    writeFileSync(path.join(`${unit}.d`, '10-devices.conf'), dropIn);
  }
  return unit;
}

function verify(unit: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8', cwd: path.dirname(unit) });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('the systemd unit', () => {
  it('has the hardening the fleet relies on', () => {
    const text = readFileSync(UNIT, 'utf8');
    for (const line of [
      'Type=notify',
      'WatchdogSec=30s',
      'Restart=on-failure',
      'User=dev2mqtt',
      'SupplementaryGroups=gpio dialout tape',
      'StateDirectory=dev2mqtt',
      'ProtectSystem=strict',
      'ReadWritePaths=-/sys/devices/platform/leds',
      'DevicePolicy=closed',
      'DeviceAllow=char-gpiochip rw',
      'NoNewPrivileges=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      'CapabilityBoundingSet=',
    ])
      expect(text.split('\n'), line).toContain(line);
  });

  it.skipIf(!haveSystemd)('passes systemd-analyze verify, alone and with a device drop-in', () => {
    expect(verify(unitCopy())).toEqual({ status: 0, output: '' });
    const dropIn = renderDropIn(
      sandboxFor(
        [
          dev('act', 'led', { name: 'ACT', sysfsRoot: '/sys' }),
          dev('relay', 'gpio', { chip: 'gpiochip0' }),
          dev('t', 'tape', { path: '/dev/nst0' }),
        ],
        kinds,
        () => undefined,
      ),
      '/etc/dev2mqtt/config.json',
    );
    expect(verify(unitCopy(dropIn))).toEqual({ status: 0, output: '' });
    // The check can fail: a misspelt key is reported.
    expect(verify(unitCopy('[Service]\nDeviceAlow=/dev/null rw\n')).output).toMatch(/Unknown key 'DeviceAlow'/);
  });

  it.skipIf(!haveSystemd)('rates OK in systemd-analyze security', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', unitCopy()], { encoding: 'utf8' });
    const level = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout);
    expect(level, r.stdout + r.stderr).not.toBeNull();
    expect(Number(level![1])).toBeLessThanOrEqual(2.5);
  });
});

describe('the device drop-in', () => {
  const links: Record<string, string> = {
    '/sys/class/leds/ACT': '/sys/devices/platform/leds/leds/ACT',
    '/sys/class/leds/input3::capslock': '/sys/devices/pci0000:00/usb1/input/input3/input3::capslock',
    '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0': '/dev/ttyUSB3',
    '/dev/ttyAMA0': '/dev/ttyAMA0',
  };
  const resolve = (p: string): string | undefined => links[p];

  it('opens exactly the configured devices, USB serial by class, LEDs where sysfs really has them, sim devices not at all', () => {
    const s = sandboxFor(
      [
        dev('act', 'led', { name: 'ACT', sysfsRoot: '/sys' }),
        dev('caps', 'led', { name: 'input3::capslock', sysfsRoot: '/sys' }),
        dev('gone', 'led', { name: 'PWR', sysfsRoot: '/sys' }),
        dev('relay', 'gpio', { chip: 'gpiochip4', interface: 'cdev' }),
        dev('door', 'gpio', { chip: 'pinctrl-rp1', interface: 'cdev' }),
        dev('modem', 'serial', { path: '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0' }),
        dev('uart', 'serial', { path: '/dev/ttyAMA0' }),
        dev('tape0', 'tape', { path: '/dev/nst0' }),
        dev('demo', 'led', { name: 'led0', sysfsRoot: '/sys' }, true),
        dev('soc', 'thermal', {}),
      ],
      kinds,
      resolve,
    );
    expect(s.deviceAllow).toEqual(['/dev/gpiochip4 rw', 'char-gpiochip rw', 'char-ttyUSB rw', '/dev/ttyAMA0 rw', '/dev/nst0 rw']);
    expect(s.readWritePaths).toEqual([
      '-/sys/devices/platform/leds/leds/ACT',
      '-/sys/devices/pci0000:00/usb1/input/input3/input3::capslock',
      '-/sys/class/leds/PWR',
    ]);
    expect(s.notes).toEqual([expect.stringContaining("soc: kind 'thermal' is a plug-in")]);
    expect(renderDropIn(s, 'x.json')).toMatch(/\[Service\]\nDeviceAllow=\nDeviceAllow=\/dev\/gpiochip4 rw\n/);
  });

  it('is what `dev2mqtt systemd` prints for a config', () => {
    const file = path.join(tempDir(), 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        node: { id: 'n' },
        devices: [
          { id: 't', kind: 'gpio', options: { chip: 'gpiochip0', line: 4 } },
          { id: 'l', kind: 'led', sim: true },
        ],
      }),
    );
    const r = runCli(['systemd', '-c', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `# Written by \`dev2mqtt systemd\` from ${file}: exactly the devices configured there.\n# It replaces the unit's class-wide DeviceAllow= list; run it again after changing the devices.\n[Service]\nDeviceAllow=\nDeviceAllow=/dev/gpiochip0 rw\n`,
    );
  });
});

describe('scripts', () => {
  const scripts = [
    path.join(REPO, '.ci/run'),
    ...readdirSync(path.join(REPO, 'deploy'))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => path.join(REPO, 'deploy', f)),
  ];

  it('parse (bash -n)', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const s of scripts) {
      const r = spawnSync('bash', ['-n', s], { encoding: 'utf8' });
      expect(r.status, `${s}: ${r.stderr}`).toBe(0);
    }
  });

  it('and the Node helper parses (node --check)', () => {
    const r = spawnSync(process.execPath, ['--check', path.join(REPO, 'deploy/npm-app.cjs')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it.skipIf(!haveShellcheck)('pass shellcheck', () => {
    const r = spawnSync('shellcheck', ['--shell=bash', ...scripts], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!haveAnsible)('the Ansible playbook', () => {
  const ansibleEnv = {
    ...process.env,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOCAL_TEMP: tempDir('dev2mqtt-ansible-'),
    ANSIBLE_HOME: tempDir('dev2mqtt-ansible-home-'),
  };

  it('passes ansible-playbook --syntax-check with the example inventory', () => {
    const r = spawnSync('ansible-playbook', ['--syntax-check', '-i', 'inventory.example.yml', 'playbook.yml'], {
      cwd: path.join(REPO, 'deploy/ansible'),
      encoding: 'utf8',
      env: ansibleEnv,
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('renders each host its own config, with its node id, groups and devices, that check-config accepts', () => {
    const out = tempDir('dev2mqtt-rendered-');
    const playbook = path.join(out, 'render.yml');
    copyFileSync(path.join(REPO, 'test/deploy/render-config.yml'), playbook);
    const r = spawnSync(
      'ansible-playbook',
      [
        '-i',
        path.join(REPO, 'deploy/ansible/inventory.example.yml'),
        playbook,
        '-e',
        JSON.stringify({ templates: path.join(REPO, 'deploy/ansible/templates'), out, ansible_python_interpreter: 'python3' }),
      ],
      { encoding: 'utf8', env: ansibleEnv, timeout: 120_000 },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const hosts = readdirSync(out)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(hosts).toEqual(['pi-kitchen-1.json', 'pi-kitchen-2.json', 'pi-lab-1.json']);
    const configs = Object.fromEntries(
      hosts.map((h) => [
        h,
        JSON.parse(readFileSync(path.join(out, h), 'utf8')) as { node: { id: string; groups: string[] }; devices: unknown[] },
      ]),
    );
    expect(configs['pi-kitchen-1.json']!.node).toEqual({ id: 'kitchen-1', groups: ['kitchen', 'leds'] });
    expect(configs['pi-lab-1.json']!.node).toEqual({ id: 'lab-1', groups: ['lab'] });
    expect(configs['pi-kitchen-2.json']!.devices).toHaveLength(2);
    for (const h of hosts) {
      const check = runCli(['check-config', '-c', path.join(out, h)]);
      expect(check.status, `${h}: ${check.stderr}`).toBe(0);
    }
  });
});
