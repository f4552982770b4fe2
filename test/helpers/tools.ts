/**
 * External tools the tests use (gcc, mosquitto, …). Outside CI a missing tool
 * skips its suite with a note; under CI=true it fails, as the brief demands:
 * a suite whose tool is missing must never pass silently in CI.
 */
import { spawnSync } from 'node:child_process';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns true when the tool is there. When it is not: throws under CI, and
 * returns false (so the caller can `describe.skipIf`) elsewhere.
 */
export function requireTool(cmd: string, why: string): boolean {
  if (hasCommand(cmd)) return true;
  if (inCI) throw new Error(`CI=true and '${cmd}' is missing (${why}); .ci/run should have installed it`);
  console.warn(`skipping: '${cmd}' not found (${why})`);
  return false;
}
