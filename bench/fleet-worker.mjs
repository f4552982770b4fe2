// One process of the fleet benchmark: `count` agents, each with a sim LED and
// its own MQTT connection, state dir and journal. Reports every `online`
// (first connect and each reconnect) to the parent with a wall-clock time and
// the broker it is on. `servers`: a JSON list of broker URLs (a cluster's nodes:
// each agent starts at a random one, as a fleet does). `options`: JSON,
// `window` (at most this many agents of this worker connecting at once; 0: all
// at once) and `reconnectMaxMs` (the agents' backoff cap).
import path from 'node:path';
import { pino } from 'pino';
import { Agent } from '../dist/agent/agent.js';
import { loadConfig } from '../dist/config/load.js';
import { builtinKinds } from '../dist/devices/builtin.js';
import { KindRegistry } from '../dist/devices/registry.js';
import { tempDir } from './brokers.mjs';

const [serversJson, prefix, countText, protocolText, optionsJson = '{}'] = process.argv.slice(2);
const servers = JSON.parse(serversJson);
const { window = 0, reconnectMaxMs } = JSON.parse(optionsJson);
const count = Number(countText);
const registry = new KindRegistry(builtinKinds());
const log = pino({ level: 'silent' });
const root = tempDir(`dev2mqtt-fleet-${prefix}-`);
const agents = [];
let backoffCapMs;
// The parent gone (killed, crashed): nothing would ever send 'stop'.
process.on('disconnect', () => process.exit(0));

/** Agents started but not yet online: a paced start waits while `window` of them are. */
const connecting = new Set();
let wake;

for (let i = 0; i < count; i++) {
  const node = `${prefix}-${i}`;
  const config = await loadConfig({
    registry,
    env: {},
    object: {
      node: { id: node, groups: ['fleet'], stateDir: path.join(root, node) },
      mqtt: { servers, keepaliveS: 60, protocolVersion: Number(protocolText), ...(reconnectMaxMs ? { reconnectMaxMs } : {}) },
      telemetry: { intervalMs: 3_600_000 },
      security: { rateLimitPerS: 0, dedupeWindow: 100 },
      log: { level: 'silent' },
      devices: [{ id: 'led0', kind: 'led', sim: true, options: { name: 'led0', pollMs: 0 } }],
    },
  });
  backoffCapMs = config.mqtt.reconnectMaxMs;
  const agent = new Agent({
    config,
    registry,
    log,
    onOnline: () => {
      if (connecting.delete(node)) wake?.();
      process.send({ online: node, t: Date.now(), server: agent.server });
    },
  });
  agents.push(agent);
  connecting.add(node);
  await agent.start();
  while (window > 0 && connecting.size >= window) await new Promise((r) => (wake = r));
}
process.send({ started: count, rss: process.memoryUsage().rss, reconnectMaxMs: backoffCapMs });
process.on('message', async (m) => {
  if (m === 'stats')
    process.send({
      stats: {
        ok: agents.reduce((sum, a) => sum + a.dispatcher.stats.ok, 0),
        perAgent: agents.map((a) => a.dispatcher.stats.ok),
        duplicates: agents.reduce((sum, a) => sum + a.dispatcher.stats.duplicates, 0),
      },
    });
  if (m === 'stop') {
    await Promise.all(agents.map((a) => a.stop()));
    process.exit(0);
  }
});
