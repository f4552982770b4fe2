/**
 * A bench never hangs on an agent that does not come online: here the agents
 * of the footprint bench refuse their config (a log level from the
 * environment they cannot take) and exit, and `bench/run.mjs` ends with the
 * bench named, what it waited for and why it stopped, exit 1, and nothing of
 * the bench (mosquitto, agents, temp dirs) left behind. Event-driven: the
 * give-up comes from the agent's exit, not from a deadline passing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { deadline } from '../helpers/deadline.js';
import { REPO } from '../helpers/pack.js';
import { requireTools } from '../helpers/tools.js';

const haveMosquitto = requireTools('the bench give-up check', 'mosquitto');

describe.skipIf(!haveMosquitto)('bench/run.mjs when an agent never comes online', () => {
  it('reports the bench that gave up, with what it waited for, cleans up and exits 1', () => {
    const tmp = tempDir('dev2mqtt-bench-tmp-');
    const r = spawnSync(process.execPath, [path.join(REPO, 'bench/run.mjs'), '--quick', '--only=footprint'], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, TMPDIR: tmp, DEV2MQTT_LOG_LEVEL: 'no-such-level' },
      timeout: deadline(120_000),
    });
    expect(r.signal, `${r.stdout}${r.stderr}`).toBeNull();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(1);
    expect(r.stderr).toMatch(
      /## footprint and start-up: FAILED after \d+ s: stopped waiting for agent fp-start-0 to come online \(dev2mqtt\/fp-start-0\/status on mqtt:\/\/127\.0\.0\.1:\d+\): its process exited \(code 1\)/,
    );
    expect(r.stderr).toMatch(/1 bench failed: footprint and start-up/);
    // The bench's mosquitto and agent state lived here; its exit removed them.
    expect(readdirSync(tmp)).toEqual([]);
  });
});
