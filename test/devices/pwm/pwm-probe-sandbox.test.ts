/**
 * What `pwm` tells the rest of the agent: `dev2mqtt probe` lists the PWM
 * chips of a recorded tree (a Raspberry Pi 4 with `dtoverlay=pwm-2chan`, one
 * channel exported and running) and configures none of them; `dev2mqtt
 * systemd` opens the chip's directory under /sys/devices, where export and
 * the kernel's pwmM/ are. Both come from the kind (DeviceKind.probe and
 * .sandbox); nothing outside src/devices/pwm/ names it.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { probeCommand } from '../../../src/cli/probe.js';
import { renderDropIn, sandboxFor } from '../../../src/deploy/sandbox.js';
import { builtinKinds } from '../../../src/devices/builtin.js';
import type { PwmChipFound } from '../../../src/devices/pwm/probe.js';
import { KindRegistry } from '../../../src/devices/registry.js';
import type { StarterConfig } from '../../../src/probe/starter.js';

const RECORDED = fileURLToPath(new URL('./testcases/pi4-pwm-2chan/sys', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-pwm-probe-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function probe(args: string[]): Promise<string> {
  const sys = path.join(root, 'sys');
  cpSync(RECORDED, sys, { recursive: true, verbatimSymlinks: true });
  mkdirSync(path.join(root, 'dev'), { recursive: true });
  let out = '';
  const io = { out: (x: string) => void (out += x), err: () => undefined, isTTY: false };
  const code = await probeCommand(['--sys-root', sys, '--dev-root', path.join(root, 'dev'), ...args], io, {
    kernel: () => {
      throw new Error('no device node is opened for PWM');
    },
  });
  expect(code).toBe(0);
  return out;
}

describe('pwm: probe', () => {
  it('finds the chip, its parent device and channel count, and what the exported channel outputs', async () => {
    const { found, config } = JSON.parse(await probe(['--json'])) as {
      found: { pwmchips: PwmChipFound[]; problems: string[] };
      config: StarterConfig;
    };
    expect(found.pwmchips).toEqual([
      {
        chip: 'pwmchip0',
        device: 'fe20c000.pwm',
        npwm: 2,
        exported: [{ channel: 0, enabled: true, periodNs: 40_000, dutyNs: 10_000, polarity: 'normal' }],
      },
    ]);
    expect(found.problems).toEqual([]);
    // A PWM output may drive a fan or a heater: listed, never configured on a guess.
    expect(config.devices.filter((d) => d.kind === 'pwm')).toEqual([]);
  });

  it('lists it for a person', async () => {
    const out = await probe([]);
    expect(out).toContain(`PWM chips (${path.join(root, 'sys', 'class/pwm')})`);
    expect(out).toContain('  pwmchip0  fe20c000.pwm  2 channel(s), 1 exported');
    expect(out).toContain('      pwm0: enabled, period 40000 ns, duty 10000 ns, normal');
  });
});

describe('pwm: sandbox', () => {
  const kinds = new KindRegistry(builtinKinds());
  const links: Record<string, string> = {
    '/sys/class/pwm/pwmchip0': '/sys/devices/platform/soc/fe20c000.pwm/pwm/pwmchip0',
    '/sys/bus/platform/devices/1f00098000.pwm': '/sys/devices/platform/axi/1000120000.pcie/1f00098000.pwm',
  };
  const dev = (id: string, options: Record<string, unknown>, sim = false) => {
    const parsed = kinds.get('pwm')!.options(sim).parse(options);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    return { id, kind: 'pwm', name: id, sim, options: parsed.value };
  };

  it('opens the chip’s directory under /sys/devices (by number or by its device’s name), and nothing for a sim', () => {
    const s = sandboxFor(
      [
        dev('strip', { chip: 'pwmchip0', channel: 0, periodNs: 1_000_000 }),
        dev('fan', { chip: 0, channel: 1, periodNs: 40_000 }),
        dev('pi5', { chip: '1f00098000.pwm', channel: 2, periodNs: 40_000 }),
        dev('gone', { chip: 'pwmchip3', channel: 0, periodNs: 40_000 }),
        dev('demo', {}, true),
      ],
      kinds,
      (p) => links[p],
    );
    expect(s.readWritePaths).toEqual([
      '-/sys/devices/platform/soc/fe20c000.pwm/pwm/pwmchip0',
      '-/sys/devices/platform/axi/1000120000.pcie/1f00098000.pwm',
      '-/sys/class/pwm/pwmchip3',
    ]);
    expect(s.deviceAllow).toEqual([]);
    // The unit's own groups cover gpio, which Raspberry Pi OS gives the PWM files.
    expect(renderDropIn(s, 'c.json')).not.toContain('SupplementaryGroups=');
  });
});
