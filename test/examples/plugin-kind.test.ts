/**
 * examples/plugin-kind/thermal.js, loaded as a user loads it (`plugins` in a
 * config, the real binary): it has the powers of a built-in kind — its sim
 * (imported from dev2mqtt/sim only for a `sim` device), the sysfs seam under
 * its `sysfsRoot`, the poll service, its own sandbox needs — and `probe
 * --plugin` is covered in test/cli/probe.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const THERMAL = fileURLToPath(new URL('../../examples/plugin-kind/thermal.js', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-plugin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function config(name: string, device: Record<string, unknown>): string {
  const file = path.join(root, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      node: { id: 'plug', stateDir: path.join(root, `${name}-state`) },
      mqtt: { url: 'embedded' },
      plugins: [THERMAL],
      devices: [{ id: 'soc', kind: 'thermal', ...device }],
    }),
  );
  return file;
}

function exec(file: string, command: string): { ok: boolean; result?: Record<string, unknown>; error?: Record<string, unknown> } {
  const r = runCli(['exec', '-c', file, 'soc', command]);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { ok: boolean; result?: Record<string, unknown>; error?: Record<string, unknown> };
}

describe('the example plug-in kind', () => {
  it('with sim: its own sysfs tree, loaded from dev2mqtt/sim', () => {
    const r = exec(config('sim', { sim: true }), 'get');
    expect(r.ok).toBe(true);
    expect(r.result?.celsius).toBeGreaterThanOrEqual(44);
    expect(r.result?.celsius).toBeLessThanOrEqual(46);
  });

  it('on a real tree: reads temp under its sysfsRoot through the sysfs seam; a missing zone is ENOENT', () => {
    const sys = path.join(root, 'sys');
    mkdirSync(path.join(sys, 'class/thermal/thermal_zone0'), { recursive: true });
    writeFileSync(path.join(sys, 'class/thermal/thermal_zone0/temp'), '51250\n');
    const r = exec(config('real', { options: { sysfsRoot: sys } }), 'get');
    expect(r).toMatchObject({ ok: true, result: { celsius: 51.25 } });
    const gone = runCli(['exec', '-c', config('gone', { options: { sysfsRoot: sys, zone: 3 } }), 'soc', 'get']);
    expect(gone.status).not.toBe(0);
    expect(`${gone.stdout}${gone.stderr}`).toMatch(/ENOENT/);
  });

  it('declares its sandbox needs, so the drop-in has no "add what it opens" note for it', () => {
    const r = runCli(['systemd', '-c', config('sandbox', { options: {} })]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("kind 'thermal'");
    expect(r.stdout).toContain('[Service]\nDeviceAllow=\n');
  });
});
