/** argv → command. Each command lives in its own module and gets a CommandIo. */
import { builtinKinds } from '../devices/builtin.js';
import { version } from '../version.js';
import { CHECK_HELP, checkConfigCommand } from './check-config.js';
import { EXEC_HELP, execCommand } from './exec.js';
import { ioctlCommand, IOCTL_HELP } from './ioctl.js';
import { PROBE_HELP, probeCommand } from './probe.js';
import { RUN_HELP, runCommand } from './run.js';
import { SYSTEMD_HELP, systemdCommand } from './systemd.js';
import { processIo, UsageError, type CommandIo } from './io.js';

export interface Command {
  readonly summary: string;
  readonly help: string;
  run(argv: string[], io: CommandIo): number | Promise<number>;
}

const commands = new Map<string, Command>();

export function registerCommand(name: string, cmd: Command): void {
  commands.set(name, cmd);
}

registerCommand('run', { summary: 'run the agent (the default command)', help: RUN_HELP, run: runCommand });
registerCommand('check-config', { summary: 'validate a configuration, naming every problem', help: CHECK_HELP, run: checkConfigCommand });
registerCommand('probe', {
  summary: 'list what every device kind finds here; print a starter config',
  help: PROBE_HELP,
  run: (argv, io) => probeCommand(argv, io),
});
registerCommand('exec', { summary: 'run one command on a device without MQTT', help: EXEC_HELP, run: execCommand });
registerCommand('systemd', {
  summary: 'print the systemd drop-in that opens the configured devices to the service',
  help: SYSTEMD_HELP,
  run: systemdCommand,
});
registerCommand('ioctl', { summary: 'decode request codes, list the request catalogue', help: IOCTL_HELP, run: ioctlCommand });

function mainHelp(): string {
  const width = Math.max(...[...commands.keys()].map((n) => n.length)) + 2;
  const lines = [...commands].map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  const kinds = builtinKinds().map((k) => k.kind);
  return `dev2mqtt ${version()}: drive Linux devices over MQTT (kinds: ${kinds.join(', ')})

Usage: dev2mqtt <command> [options]      dev2mqtt <command> --help

Commands:
${lines.join('\n')}
`;
}

export async function main(argv: string[], io: CommandIo = processIo, defaultCommand = 'run'): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const cmd = topic ? commands.get(topic) : undefined;
    io.out(cmd ? cmd.help : mainHelp());
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.out(`${version()}\n`);
    return 0;
  }
  if (first !== undefined && !first.startsWith('-') && !commands.has(first)) {
    io.err(`dev2mqtt: unknown command '${first}'\n\n${mainHelp()}`);
    return 2;
  }
  const named = first !== undefined && commands.has(first);
  const name = named ? first : defaultCommand;
  const cmd = commands.get(name);
  if (!cmd) {
    io.err(`dev2mqtt: unknown command '${first ?? ''}'\n\n${mainHelp()}`);
    return 2;
  }
  try {
    return await cmd.run(named ? rest : argv, io);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      io.err(`dev2mqtt ${name}: ${(e as Error).message}\nTry 'dev2mqtt ${name} --help'.\n`);
      return 2;
    }
    throw e;
  }
}
