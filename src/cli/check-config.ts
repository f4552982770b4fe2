/** `dev2mqtt check-config`: validates a configuration and names every problem. */
import { parseArgs } from 'node:util';
import { brokerUrls } from '../config/load.js';
import type { CommandIo } from './io.js';
import { loadOrReport } from './setup.js';

export const CHECK_HELP = `Usage: dev2mqtt check-config [-c FILE]

Validates the configuration (the file, DEV2MQTT_* environment overrides,
every device's options against its kind) and prints each problem with its
key path. Exit 0 when it is valid, 1 when not.
`;

export async function checkConfigCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    io.out(CHECK_HELP);
    return 0;
  }
  const loaded = await loadOrReport(values.config, io);
  if (!loaded) return 1;
  const c = loaded.config;
  for (const w of c.warnings) io.err(`warning: ${w}\n`);
  io.out(
    `${c.file}: valid. node ${c.node.id}, ${c.devices.length} device${c.devices.length === 1 ? '' : 's'}${c.devices.length ? ` (${c.devices.map((d) => `${d.id}:${d.kind}${d.sim ? ' sim' : ''}`).join(', ')})` : ''}, broker ${brokerUrls(c.mqtt).join(', ')}\n`,
  );
  return 0;
}
