/**
 * SECURITY.md stays true: its sections are there, every default in its table
 * is the schema's default, the files and tests it points to exist, and the
 * command journal it describes is created readable by the agent's user only.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { loadConfig } from '../../src/config/load.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(path.join(ROOT, 'SECURITY.md'), 'utf8');

/** The rows of the table under `## Defaults`: key and default, both written in backticks. */
function defaultsTable(): Array<{ key: string; value: unknown }> {
  const section = doc.split(/^## /m).find((s) => s.startsWith('Defaults')) ?? '';
  return section
    .split('\n')
    .map((l) => /^\| `([\w.]+)` \| `(.*?)` \|/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ key: m[1] as string, value: JSON.parse(m[2] as string) as unknown }));
}

describe('SECURITY.md', () => {
  let agent: Agent | undefined;
  afterAll(async () => agent?.stop());

  it('has the threat model, what runs as whom, the defaults, and how to report', () => {
    for (const heading of [
      '## Reporting a vulnerability',
      '## Threat model',
      '### Who can publish what',
      '### What a compromised broker',
      '### Local users',
      '## Defaults',
    ]) {
      expect(doc).toContain(heading);
    }
    expect(doc).toMatch(/Report a vulnerability/);
  });

  it('states the defaults the configuration schema has', async () => {
    const rows = defaultsTable();
    expect(rows.length).toBeGreaterThanOrEqual(12);
    const config = await loadConfig({
      object: { node: { id: 'doc', stateDir: tempDir() } },
      registry: new KindRegistry(builtinKinds()),
      env: {},
    });
    for (const { key, value } of rows) {
      const actual = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
      expect(actual, key).toEqual(value);
    }
  });

  it('points to files and tests that exist', () => {
    const refs = [...doc.matchAll(/`((?:deploy|test)\/[\w./-]+)`/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(4);
    for (const ref of refs) expect(existsSync(path.join(ROOT, ref)), ref).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('SECURITY.md');
  });

  it('the command journal is created 0600, as it says', async () => {
    agent = await startAgent();
    const c = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await c.subscribe('dev2mqtt/t1/p1/result');
    await c.command('dev2mqtt/t1/p1/cmd/echo', { value: 'pin 1234' }, 'j1');
    await c.end();
    const mode = statSync(path.join(agent.config.node.stateDir, 'journal.jsonl')).mode & 0o777;
    expect(mode.toString(8)).toBe('600');
  });
});
