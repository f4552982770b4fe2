/** `dev2mqtt probe`: list what this machine offers and print a starter config. */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { builtinKinds } from '../devices/builtin.js';
import type { AnyKind } from '../devices/kind.js';
import { KindRegistry } from '../devices/registry.js';
import type { Kernel } from '../kernel/kernel.js';
import { LibcKernel } from '../kernel/libc.js';
import { describeFound, foundJson, probeHost, probeMachine, type ProbeRoots } from '../probe/scan.js';
import { starterConfig } from '../probe/starter.js';
import { UsageError, type CommandIo } from './io.js';

/** What each built-in kind's probe looks at, as its section of the listing is headed. */
function probedByKinds(): string {
  const host = probeHost({ sysRoot: '/sys', devRoot: '/dev' }, () => new LibcKernel(), []);
  return builtinKinds()
    .flatMap((k) => (k.probe ? [`  ${k.probe.heading(host)}`] : []))
    .join('\n');
}

export const PROBE_HELP = `Usage: dev2mqtt probe [--sys-root DIR] [--dev-root DIR] [--proc-root DIR] [--plugin MODULE]… [--json] [-o FILE [--force]]

Asks every device kind what this machine has of it (the built-in kinds look at
the places below; a --plugin kind at its own), then prints a starter
configuration that \`dev2mqtt check-config\` accepts. Outputs that could drive
something are listed, not configured: pick the ones that are wired to
something.

${probedByKinds()}

Options:
  --sys-root DIR   where sysfs is mounted (default /sys)
  --dev-root DIR   where the device nodes are (default /dev)
  --proc-root DIR  where procfs is mounted (default /proc)
  --plugin MODULE  also ask a plug-in kind (a module path, as in the config's plugins); repeatable
  --json           print {"found": …, "config": …} as JSON
  -o, --output FILE  write the starter config to FILE (not over an existing one without --force)
  -h, --help       this text
`;

export interface ProbeDeps {
  /** The kernel device nodes are asked through (tests: a sim kernel). */
  readonly kernel: () => Kernel;
  /** The kinds asked (default: the built-in ones). */
  readonly kinds?: readonly AnyKind[];
}

const realKernel: ProbeDeps = { kernel: () => new LibcKernel() };

export async function probeCommand(argv: string[], io: CommandIo, deps: ProbeDeps = realKernel): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'sys-root': { type: 'string' },
      'dev-root': { type: 'string' },
      'proc-root': { type: 'string' },
      plugin: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(PROBE_HELP);
    return 0;
  }
  const roots: ProbeRoots = {
    sysRoot: path.resolve(values['sys-root'] ?? '/sys'),
    devRoot: path.resolve(values['dev-root'] ?? '/dev'),
    procRoot: path.resolve(values['proc-root'] ?? '/proc'),
  };
  if (values.output && existsSync(values.output) && !values.force)
    throw new UsageError(`${values.output} exists; add --force to replace it`);
  const registry = new KindRegistry(deps.kinds ?? builtinKinds());
  // Absolute, so the starter config loads them wherever it is saved.
  const plugins = (values.plugin ?? []).map((p) => (p.startsWith('.') ? path.resolve(p) : p));
  await registry.loadPlugins(plugins, process.cwd());
  const kinds = registry.names().flatMap((n) => registry.get(n) ?? []);
  const found = await probeMachine(roots, kinds, deps.kernel);
  const config = starterConfig(found, plugins);
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  if (values.json) {
    io.out(`${JSON.stringify({ found: foundJson(found), config }, null, 2)}\n`);
  } else {
    io.out(`${describeFound(found)}\n`);
  }
  if (values.output) {
    writeFileSync(values.output, configText);
    if (!values.json) io.out(`Starter config written to ${values.output}; check it with: dev2mqtt check-config -c ${values.output}\n`);
  } else if (!values.json) {
    io.out(`Starter config (save it, set mqtt.url to your broker, then: dev2mqtt check-config -c FILE):\n${configText}`);
  }
  return 0;
}
