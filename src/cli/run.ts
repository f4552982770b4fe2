/** `dev2mqtt [run]`: the agent, until SIGINT or SIGTERM. */
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.js';
import { brokerUrls } from '../config/load.js';
import { sendNotify } from '../kernel/libc-notify.js';
import { LogOutput } from '../log-output.js';
import { installCrashPolicy } from './crash-policy.js';
import type { CommandIo } from './io.js';
import { ServiceNotifier } from './service-notify.js';
import { loadOrReport, loggerFor } from './setup.js';

export const RUN_HELP = `Usage: dev2mqtt [run] [-c FILE] [--log-level LEVEL]

Runs the agent until SIGINT or SIGTERM; then it finishes or abandons
in-flight commands within 5 s, publishes "offline" and exits 0.

Options:
  -c, --config FILE   configuration (else $DEV2MQTT_CONFIG, else config/default.json)
  --log-level LEVEL   fatal, error, warn, info, debug, trace (overrides log.level)
  -h, --help          this text
`;

/** The contract's limit for a shutdown; the agent aims under it. */
const HARD_EXIT_MS = 5000;

export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    io.out(RUN_HELP);
    return 0;
  }
  const loaded = await loadOrReport(values.config, io);
  if (!loaded) return 1;
  // stdout may be a file on the SD card: a full or failing one drops log lines, never the agent.
  const output = io.isTTY ? undefined : new LogOutput(1);
  const log = loggerFor(loaded.config, io, values['log-level'], output);
  output?.onHealth((h, was) => {
    // Said where the gap is, once the log can be written again (while degraded it could not be read anyway).
    if (h.state === 'ok')
      log.warn(
        { dropped: was.dropped, since: new Date(was.sinceMs ?? Date.now()).toISOString(), errno: was.errno },
        `${was.dropped} log line(s) dropped: ${was.reason ?? 'writes to stdout failed'}; writing again`,
      );
  });
  for (const w of loaded.config.warnings) log.warn(w);
  const agent = new Agent({ config: loaded.config, registry: loaded.registry, log, ...(output ? { logOutput: output } : {}) });
  installCrashPolicy(() => agent, log);
  try {
    await agent.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'cannot start');
    await agent.stop().catch(() => undefined);
    return 1;
  }
  log.info(
    {
      config: loaded.config.file,
      devices: loaded.config.devices.length,
      base: loaded.config.mqtt.baseTopic,
      journal: loaded.config.node.journalDir,
    },
    'agent started',
  );
  // Under systemd (Type=notify): ready now, watchdog pings from the event loop, stopping on the way out.
  const service = new ServiceNotifier({ env: process.env, pid: process.pid, send: sendNotify, log });
  service.ready(
    `node ${loaded.config.node.id}: ${loaded.config.devices.length} devices, broker ${brokerUrls(loaded.config.mqtt).join(', ')}`,
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping');
      service.stopping();
      // Blocking kernel calls (a waiting TIOCMIWAIT) may keep threads busy: never outlive the limit.
      setTimeout(() => process.exit(0), HARD_EXIT_MS).unref();
      agent.stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error({ err: (e as Error).message }, 'error while stopping');
          resolve(0);
        },
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
