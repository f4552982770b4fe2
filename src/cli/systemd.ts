/** `dev2mqtt systemd`: the drop-in that opens exactly the configured devices to the sandboxed service. */
import { parseArgs } from 'node:util';
import { renderDropIn, sandboxFor } from '../deploy/sandbox.js';
import type { CommandIo } from './io.js';
import { loadOrReport } from './setup.js';

export const SYSTEMD_HELP = `Usage: dev2mqtt systemd [-c FILE]

Prints a systemd drop-in for deploy/systemd/dev2mqtt.service with the
DeviceAllow= and ReadWritePaths= lines the configured devices need (sim
devices need none), resolved on this machine. deploy/install.sh and the
Ansible playbook install it as
/etc/systemd/system/dev2mqtt.service.d/10-devices.conf.
`;

export async function systemdCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    io.out(SYSTEMD_HELP);
    return 0;
  }
  const loaded = await loadOrReport(values.config, io);
  if (!loaded) return 1;
  io.out(renderDropIn(sandboxFor(loaded.config.devices, loaded.registry), loaded.config.file || 'the configuration'));
  return 0;
}
