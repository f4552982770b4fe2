/**
 * A QoS 1 command that hangs the agent's event loop (a plug-in stuck in a
 * synchronous loop), on the real `dev2mqtt run` and a real mosquitto: the
 * agent never acknowledges it, so after the kill that ends the hang (systemd's
 * watchdog in a deployment; SIGKILL here) the broker delivers it again, with
 * DUP set, to the restarted agent. The journal saw it start, so the restarted
 * agent answers it `canceled` and must not run it again: a command without an
 * id, recognised by its packet id, as well as one with an id. Run again, it
 * would hang the new agent too, and every one after it, forever.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { requireTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';
import { childAgentSuite, writeConfig, type ChildAgent } from './helpers/child-agent.js';

const HANGER = fileURLToPath(new URL('../fixtures/hang-kind.js', import.meta.url));

describe.skipIf(!requireTools('a hung command across restarts', 'mosquitto'))('a command that hangs the agent', () => {
  const suite = childAgentSuite();

  for (const [how, payload] of [
    ['without an id', ''],
    ['with an id', JSON.stringify({ id: 'stuck-1' })],
  ] as const) {
    it(`${how}: redelivered after the kill, answered canceled and not run again`, async () => {
      const { broker, client } = suite;
      const node = `hang-${payload ? 'id' : 'noid'}`;
      const B = `dev2mqtt/${node}`;
      const stateDir = tempDir('dev2mqtt-hang-');
      const marks = path.join(stateDir, 'runs.txt');
      const config = writeConfig({
        node: { id: node, stateDir },
        mqtt: { url: broker.url },
        plugins: [HANGER],
        devices: [{ id: 's1', kind: 'hang', options: { marks } }],
        // Node state often: it counts the redelivery the agent recognised (commands.duplicates).
        telemetry: { intervalMs: 1000 },
        log: { level: 'info' },
      });
      await client.subscribe(`${B}/#`);
      const online = async (): Promise<ChildAgent> => {
        const seen = client.on(`${B}/status`).length;
        const child = suite.spawn(config, [], { RUNTIME_DIRECTORY: '' });
        await client.next(
          (m) => m.topic === `${B}/status` && m.payload === 'online' && client.on(`${B}/status`).indexOf(m) >= seen,
          60_000,
          `${node} online`,
        );
        return child;
      };
      const runs = (): number => (existsSync(marks) ? readFileSync(marks, 'utf8').split('\n').filter(Boolean).length : 0);

      const first = await online();
      await client.publish(`${B}/s1/cmd/spin`, payload, { qos: 1 });
      // It started (and so hangs): the journal has its "started" line, written before the handler ran.
      await until(() => runs() === 1, 'the command running');
      await first.kill('SIGKILL');

      const second = await online();
      const canceled = await client.next((m) => m.topic === `${B}/s1/result`, 60_000, 'the hung command answered');
      expect(JSON.parse(canceled.payload)).toMatchObject({ command: 'spin', ok: false, error: { code: 'canceled' } });
      // Alive and answering: the redelivery (DUP) did not run the command again.
      expect(await client.command(`${B}/cmd/ping`, {}, `${node}-ping`)).toMatchObject({ ok: true });
      // The broker did deliver it again (DUP), and the agent knew it for the one that hung.
      await client.next(
        (m) => m.topic === `${B}/state` && (JSON.parse(m.payload) as { commands?: { duplicates?: number } }).commands?.duplicates === 1,
        60_000,
        'node state counting the redelivery',
      );
      expect(runs()).toBe(1);
      expect(second.proc.exitCode).toBeNull();
    }, 180_000);
  }
});
