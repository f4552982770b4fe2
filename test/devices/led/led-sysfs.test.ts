/**
 * `led` against fake sysfs trees, Telegraf-style: every folder under
 * testcases/ holds a `sys/` tree and a case.json with the options, the state
 * expected after open(), and command steps with the files each must leave.
 * Each step runs on a fresh copy of the tree, so steps do not depend on each
 * other (a plain file cannot redraw the trigger list as sysfs does).
 */
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ledKind } from '../../../src/devices/led/kind.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { tempDir } from '../../helpers/temp.js';

interface Step {
  command: string;
  args: unknown;
  files?: Record<string, string>;
  result?: Record<string, unknown>;
  error?: { code: string; errno?: string; messageHas?: string };
  lost?: boolean;
}

interface Case {
  about: string;
  options: { name: string };
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

/** A private copy of the case's sys/ tree: commands write to it. */
function freshRoot(caseName: string): string {
  const root = path.join(tempDir(`dev2mqtt-led-${caseName}-`), 'sys');
  cpSync(path.join(casesDir, caseName, 'sys'), root, { recursive: true });
  return root;
}

function open(caseName: string, spec: Case) {
  const sysfsRoot = freshRoot(caseName);
  const t = makeTestDevice(ledKind, { options: { ...spec.options, sysfsRoot, pollMs: 0 } });
  return { ...t, dir: path.join(sysfsRoot, 'class', 'leds', spec.options.name) };
}

const fixtureFile = (caseName: string, spec: Case, file: string): string =>
  readFileSync(path.join(casesDir, caseName, 'sys', 'class', 'leds', spec.options.name, file), 'utf8').trim();

describe.each(cases)('led on fake sysfs: $name', ({ name, spec }) => {
  it(`opens: ${spec.about}`, async () => {
    const t = open(name, spec);
    if (spec.openError) {
      await expect(t.device.open()).rejects.toMatchObject({ code: spec.openError });
      return;
    }
    await t.device.open();
    expect(t.device.state()).toEqual(spec.state);
    await t.device.close();
  });

  for (const [i, step] of (spec.steps ?? []).entries()) {
    it(`step ${i + 1}: ${step.command} ${JSON.stringify(step.args)}`, async () => {
      const t = open(name, spec);
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
      }
      for (const [file, want] of Object.entries(step.files ?? {})) {
        const expected = want === '@fixture' ? fixtureFile(name, spec, file) : want;
        expect(readFileSync(path.join(t.dir, file), 'utf8').trim(), file).toBe(expected);
      }
      expect(t.recorded.lost.length > 0, 'reported lost').toBe(step.lost ?? false);
      await t.device.close();
    });
  }
});
