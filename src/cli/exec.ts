/** `dev2mqtt exec DEVICE COMMAND [JSON]`: one command on a configured device, without MQTT. */
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.js';
import type { CommandIo } from './io.js';
import { UsageError } from './io.js';
import { ProgressView } from './progress.js';
import { loadOrReport, loggerFor } from './setup.js';

export const EXEC_HELP = `Usage: dev2mqtt exec [-c FILE] DEVICE COMMAND [JSON]

Runs one command on a configured device directly (no broker), with the same
argument rules as MQTT, prints the result JSON and exits 0 if it is ok.
JSON is the command payload: an object, or a plain value such as ON.
Progress of long commands shows as a bar on a terminal, as lines otherwise.

Example:
  dev2mqtt exec tape0 status
  dev2mqtt exec led0 set '{"state":"ON","brightness":128}'
`;

export async function execCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(EXEC_HELP);
    return 0;
  }
  const [device, command, payload, ...extra] = positionals;
  if (!device || !command || extra.length) throw new UsageError('expected DEVICE COMMAND [JSON]');
  const loaded = await loadOrReport(values.config, io);
  if (!loaded) return 1;
  const log = loggerFor(loaded.config, { ...io, isTTY: false }, values['log-level'] ?? 'warn');
  const progress = new ProgressView(io);
  const agent = new Agent({
    config: loaded.config,
    registry: loaded.registry,
    log,
    only: device,
    onEvent: (_id, type, data) => {
      if (type === 'progress') progress.update(data);
    },
  });
  try {
    await agent.start();
    const result = await agent.exec(device, command, Buffer.from(payload ?? ''));
    progress.done();
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return result.ok ? 0 : 1;
  } finally {
    await agent.stop();
  }
}
