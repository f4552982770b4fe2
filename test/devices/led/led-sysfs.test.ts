/**
 * `led` against recorded sysfs trees, Telegraf-style: every folder under
 * testcases/ holds a `sys/` tree copied from a real machine and a case.json
 * with the options, the state expected after open(), and command steps with
 * what each must leave in the kernel (`kernel`: an attribute's text as the
 * kernel shows it; `[name]` for the selected trigger; `@absent` for one
 * that must not exist). The tree is loaded into the sim sysfs and its LEDs
 * are taken over by the LED class model (src/devices/led/sim.ts), so a write
 * is answered as the driver answers it — `timer` grows delay_on/delay_off,
 * brightness 0 drops the trigger — and what is tested is the product's
 * behaviour on a kernel that behaves, not a directory of plain files. A case
 * with `"model": false` keeps the recorded files as they are (a broken
 * driver's output). Each step runs on a fresh tree, so steps do not depend on
 * each other. Opening also runs on a copy of the tree on disk through the
 * real sysfs layer.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ledKind } from '../../../src/devices/led/kind.js';
import { modelRecordedLed } from '../../../src/devices/led/sim.js';
import { parseTriggers } from '../../../src/devices/led/triggers.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { loadTree } from '../../../src/kernel/sysfs-recorded.js';
import type { SimSysfs } from '../../../src/kernel/sysfs-sim.js';
import { makeTestDevice } from '../../helpers/device-context.js';

interface Step {
  command: string;
  args: unknown;
  kernel?: Record<string, string>;
  result?: Record<string, unknown>;
  error?: { code: string; errno?: string; messageHas?: string };
  lost?: boolean;
}

interface Case {
  about: string;
  options: { name: string };
  model?: boolean;
  state?: Record<string, unknown>;
  openError?: string;
  steps?: Step[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const casesDir = path.join(here, 'testcases');
const cases = readdirSync(casesDir)
  .sort()
  .map((name) => ({
    name,
    spec: JSON.parse(readFileSync(path.join(casesDir, name, 'case.json'), 'utf8')) as Case,
  }));

const temps: string[] = [];
afterAll(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

/** The case's recorded tree in the sim, every LED of it driven by the LED class model. */
async function simTree(caseName: string, spec: Case): Promise<SimSysfs> {
  const tree = await loadTree(path.join(casesDir, caseName, 'sys'));
  if (spec.model !== false) for (const name of await tree.list('class/leds')) await modelRecordedLed(tree, `class/leds/${name}`);
  return tree;
}

async function open(caseName: string, spec: Case) {
  const tree = await simTree(caseName, spec);
  const stateDir = mkdtempSync(path.join(tmpdir(), `dev2mqtt-led-${caseName}-`));
  temps.push(stateDir);
  const t = await makeTestDevice(ledKind, { options: { ...spec.options, pollMs: 0 }, sysfs: tree, stateDir });
  return { ...t, tree, dir: `class/leds/${spec.options.name}` };
}

/** What the kernel shows for `attr` now, against what the step expects of it. */
async function expectKernel(tree: SimSysfs, dir: string, attr: string, want: string): Promise<void> {
  const rel = `${dir}/${attr}`;
  if (want === '@absent') {
    expect(await tree.exists(rel), `${attr} should not exist`).toBe(false);
    return;
  }
  const text = await tree.read(rel);
  const bracketed = /^\[(.+)\]$/.exec(want);
  if (attr === 'trigger' && bracketed) expect(parseTriggers(text).selected, attr).toBe(bracketed[1]);
  else expect(text.trim(), attr).toBe(want);
}

describe.each(cases)('led on a recorded sysfs tree: $name', ({ name, spec }) => {
  it(`opens: ${spec.about}`, async () => {
    const t = await open(name, spec);
    if (spec.openError) {
      await expect(t.device.open()).rejects.toMatchObject({ code: spec.openError });
      return;
    }
    await t.device.open();
    expect(t.device.state()).toEqual(spec.state);
    await t.device.close();
  });

  it('opens the same through the real sysfs layer, on a copy of the tree on disk', async () => {
    const root = mkdtempSync(path.join(tmpdir(), `dev2mqtt-led-real-${name}-`));
    temps.push(root);
    cpSync(path.join(casesDir, name, 'sys'), path.join(root, 'sys'), { recursive: true });
    const t = await makeTestDevice(ledKind, { options: { ...spec.options, pollMs: 0, sysfsRoot: path.join(root, 'sys') }, stateDir: root });
    if (spec.openError) {
      await expect(t.device.open()).rejects.toMatchObject({ code: spec.openError });
      return;
    }
    await t.device.open();
    expect(t.device.state()).toEqual(spec.state);
  });

  for (const [i, step] of (spec.steps ?? []).entries()) {
    it(`step ${i + 1}: ${step.command} ${JSON.stringify(step.args)}`, async () => {
      const t = await open(name, spec);
      await t.device.open();
      let result: unknown;
      let error: unknown;
      try {
        result = await t.run(step.command, step.args);
      } catch (e) {
        error = e;
      }
      if (step.error) {
        expect(error, 'the command should fail').toBeDefined();
        const body = toErrorBody(error);
        expect(body.code).toBe(step.error.code);
        if (step.error.errno) expect(body.errno).toBe(step.error.errno);
        if (step.error.messageHas) expect(body.message).toContain(step.error.messageHas);
      } else {
        if (error) throw error as Error;
        if (step.result) expect(result).toMatchObject(step.result);
        // What the command returns is what the kernel now shows: the state is read back, not assumed.
        expect(t.device.state()).toEqual(result);
      }
      for (const [attr, want] of Object.entries(step.kernel ?? {})) await expectKernel(t.tree, t.dir, attr, want);
      expect(t.recorded.lost.length > 0, 'reported lost').toBe(step.lost ?? false);
      await t.device.close();
    });
  }
});
