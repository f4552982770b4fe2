/**
 * `gpio` with `interface: "sysfs"` against fake /sys/class/gpio trees of
 * three kernels (testcases/<case>/sys), one table-driven loop: the chip's
 * base is read, not assumed (571 on a Pi 5, 512 on a Pi 4 with 6.6, 0 before),
 * the line is exported, configured, driven, and unexported on close.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gpioKind } from '../../../src/devices/gpio/kind.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { fakeSysfsGpio, type FakeGpioKernel } from './fake-sysfs-gpio.js';

interface Run {
  options: Record<string, unknown>;
  number?: number;
  alreadyExported?: boolean;
  openError?: string;
  files?: Record<string, string>;
  steps?: Array<{ command: string; args: unknown; files?: Record<string, string>; result?: Record<string, unknown> }>;
}

const casesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testcases');
const cases = readdirSync(casesDir)
  .sort()
  .map((name) => ({
    name,
    spec: JSON.parse(readFileSync(path.join(casesDir, name, 'case.json'), 'utf8')) as { about: string; runs: Run[] },
  }));

const fakes: FakeGpioKernel[] = [];
afterEach(() => {
  for (const f of fakes.splice(0)) f.stop();
});

function tree(caseName: string) {
  const root = path.join(mkdtempSync(path.join(tmpdir(), `dev2mqtt-gpio-${caseName}-`)), 'sys');
  cpSync(path.join(casesDir, caseName, 'sys'), root, { recursive: true, verbatimSymlinks: true });
  const kernel = fakeSysfsGpio(root);
  fakes.push(kernel);
  const read = (n: number, attr: string): string => readFileSync(path.join(root, 'class', 'gpio', `gpio${n}`, attr), 'utf8').trim();
  return { root, kernel, read };
}

describe.each(cases)('sysfs gpio: $name', ({ name, spec }) => {
  for (const [i, run] of spec.runs.entries()) {
    it(`run ${i + 1}: ${JSON.stringify(run.options)}`, async () => {
      const { root, kernel, read } = tree(name);
      const t = await makeTestDevice(gpioKind, { options: { interface: 'sysfs', sysfsRoot: root, pollMs: 20, ...run.options } });
      if (run.openError) {
        await expect(t.device.open()).rejects.toThrow(run.openError);
        return;
      }
      const n = run.number ?? -1;
      await t.device.open();
      expect(kernel.exported).toEqual(run.alreadyExported ? [] : [n]);
      expect(t.device.state()).toMatchObject({ interface: 'sysfs', sysfsNumber: n });
      for (const [attr, want] of Object.entries(run.files ?? {})) expect(read(n, attr), attr).toBe(want);
      for (const step of run.steps ?? []) {
        const result = await t.run(step.command, step.args);
        if (step.result) expect(result).toMatchObject(step.result);
        for (const [attr, want] of Object.entries(step.files ?? {})) expect(read(n, attr), `${step.command} ${attr}`).toBe(want);
      }
      await t.device.close();
      // Only a line we exported is unexported: someone else's stays as it was.
      await vi.waitFor(() => expect(kernel.unexported).toEqual(run.alreadyExported ? [] : [n]), { timeout: 10_000 });
    });
  }
});

describe('sysfs gpio edges', () => {
  it('a change of value is an edge event of the configured kind, with our sequence numbers', async () => {
    const { root, read } = tree('pi4-6.6');
    const t = await makeTestDevice(gpioKind, {
      options: { interface: 'sysfs', sysfsRoot: root, chip: 'gpiochip0', line: 22, edge: 'rising', pollMs: 10 },
    });
    await t.device.open();
    const value = path.join(root, 'class', 'gpio', 'gpio534', 'value');
    expect(read(534, 'edge')).toBe('rising');
    writeFileSync(value, '1\n');
    await vi.waitFor(() => expect(t.recorded.events).toHaveLength(1), { timeout: 10_000 });
    writeFileSync(value, '0\n'); // a falling edge: not asked for
    await vi.waitFor(() => expect(t.device.state()).toMatchObject({ value: 0 }), { timeout: 10_000 });
    writeFileSync(value, '1\n');
    await vi.waitFor(() => expect(t.recorded.events).toHaveLength(2), { timeout: 10_000 });
    expect(t.recorded.events.map((e) => [e.type, e.edge, e.value, e.seqno])).toEqual([
      ['edge', 'rising', 1, 1],
      ['edge', 'rising', 1, 2],
    ]);
    expect(typeof t.recorded.events[0]?.timestampNs).toBe('string');
    await t.device.close();
  });

  it('an input without edges is re-read every pollMs, as the option says', async () => {
    const { root } = tree('pi4-6.6');
    const t = await makeTestDevice(gpioKind, {
      options: { interface: 'sysfs', sysfsRoot: root, chip: 'gpiochip0', line: 22, edge: 'none', pollMs: 10 },
    });
    await t.device.open();
    expect(t.device.state()).toMatchObject({ value: 0 });
    writeFileSync(path.join(root, 'class', 'gpio', 'gpio534', 'value'), '1\n');
    await vi.waitFor(() => expect(t.device.state()).toMatchObject({ value: 1 }), { timeout: 10_000 });
    await t.device.close();
  });
});
