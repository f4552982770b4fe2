/**
 * One policy for the unexpected (src/cli/crash-policy.ts), on the real
 * `dev2mqtt run` and a real mosquitto: a plug-in that throws where nothing
 * catches it (an uncaught exception, an unhandled rejection) makes the agent
 * log it with its stack and origin, publish `offline`, and exit with 70, so
 * that systemd's Restart=on-failure starts a fresh one.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CRASH_EXIT_CODE } from '../../src/cli/crash-policy.js';
import { tempDir } from '../helpers/agent.js';
import { requireTools } from '../helpers/tools.js';
import { childAgentSuite, writeConfig } from './helpers/child-agent.js';

const CRASHER = fileURLToPath(new URL('../fixtures/crash-kind.js', import.meta.url));

describe.skipIf(!requireTools('the crash policy', 'mosquitto'))('the crash policy', () => {
  const suite = childAgentSuite();

  for (const how of ['exception', 'rejection'] as const) {
    it(`an unhandled ${how}: logged with its origin and stack, offline published, exit ${CRASH_EXIT_CODE}`, async () => {
      const { broker, client } = suite;
      const node = `crash-${how}`;
      const status = `dev2mqtt/${node}/status`;
      const config = writeConfig({
        node: { id: node, stateDir: tempDir('dev2mqtt-crash-') },
        mqtt: { url: broker.url },
        plugins: [CRASHER],
        devices: [{ id: 'c1', kind: 'crasher' }],
        log: { level: 'info' },
      });
      await client.subscribe(`dev2mqtt/${node}/#`);
      const child = suite.spawn(config);
      await client.next((m) => m.topic === status && m.payload === 'online', 60_000, 'online');
      const seen = client.on(status).length;
      expect(await client.command(`dev2mqtt/${node}/c1/cmd/throwLater`, { how }, 'arm')).toMatchObject({ ok: true });
      expect(await child.exited).toBe(CRASH_EXIT_CODE);
      const origin = how === 'exception' ? 'uncaughtException' : 'unhandledRejection';
      const fatal = child
        .output()
        .split('\n')
        .find((l) => l.includes(`"origin":"${origin}"`));
      expect(fatal, child.output().slice(-3000)).toMatch(/"level":60/);
      expect(fatal).toMatch(/boom: a plug-in bug[^"]*","stack":"Error: boom/);
      expect(child.output()).toMatch(/"offlinePublished":true/);
      await client.next((m) => m.topic === status && client.on(status).indexOf(m) >= seen, 30_000, 'offline');
      expect(
        client
          .on(status)
          .slice(seen)
          .map((m) => m.payload),
      ).toEqual(['offline']);
    });
  }
});
