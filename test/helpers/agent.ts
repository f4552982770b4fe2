/** Starting agents in the test process, each with its own state dir and (by default) embedded broker. */
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { LogOutput } from '../../src/log-output.js';
import { loadConfig } from '../../src/config/load.js';
import { builtinKinds } from '../../src/devices/builtin.js';
import { KindRegistry } from '../../src/devices/registry.js';
import { tempDir } from './temp.js';
import { probeKind } from './test-kinds.js';

export { tempDir };

type Obj = Record<string, unknown>;

function merge(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? merge(prev as Obj, v as Obj)
        : v;
  }
  return out;
}

export interface TestAgentOptions {
  /** Merged over the defaults: embedded broker on a free port, a temp state dir, node id `t1`. */
  readonly config?: Obj;
  /** Log lines end up here when given (tests that read the log). */
  readonly logStream?: NodeJS.WritableStream;
  readonly logLevel?: string;
  readonly start?: boolean;
  /** Which of mqtt.servers to try first (default: a random one, as in production). */
  readonly firstServer?: number;
  /** Where the node's log health comes from (node state `log`), as `dev2mqtt run` hands it over. */
  readonly logOutput?: LogOutput;
}

export async function startAgent(o: TestAgentOptions = {}): Promise<Agent> {
  const registry = new KindRegistry([...builtinKinds(), probeKind]);
  const object = merge(
    {
      node: { id: 't1', stateDir: tempDir('dev2mqtt-state-') },
      mqtt: { url: 'embedded', reconnectMinMs: 50, reconnectMaxMs: 500 },
      broker: { port: 0 },
      devices: [{ id: 'p1', kind: 'probe' }],
      security: { rateLimitPerS: 0 },
      telemetry: { stateThrottleMs: 0 },
    },
    o.config ?? {},
  );
  const config = await loadConfig({ object, registry, env: {} });
  const level = o.logLevel ?? process.env.TEST_LOG_LEVEL ?? (o.logStream ? 'debug' : 'silent');
  const log = o.logStream ? pino({ level }, o.logStream) : pino({ level });
  const agent = new Agent({
    config,
    registry,
    log,
    ...(o.firstServer !== undefined ? { firstServer: o.firstServer } : {}),
    ...(o.logOutput ? { logOutput: o.logOutput } : {}),
  });
  if (o.start !== false) {
    await agent.start();
    await agent.whenOnline();
  }
  return agent;
}
