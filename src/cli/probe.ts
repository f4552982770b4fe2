/** `dev2mqtt probe`: list what this machine offers and print a starter config. */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { builtinKinds } from '../devices/builtin.js';
import type { Kernel } from '../kernel/kernel.js';
import { LibcKernel } from '../kernel/libc.js';
import { probeMachine, type ChipFound, type ProbeResult, type ProbeRoots } from '../probe/scan.js';
import { starterConfig } from '../probe/starter.js';
import { UsageError, type CommandIo } from './io.js';

export const PROBE_HELP = `Usage: dev2mqtt probe [--sys-root DIR] [--dev-root DIR] [--json] [-o FILE [--force]]

Lists the LEDs (/sys/class/leds), GPIO chips with their labels and line
names, serial ports (/dev/ttyUSB*, ttyACM*, ttyAMA*, ttyS* with a driver,
and their /dev/serial/by-id names) and tape drives (/dev/nst* with the SCSI
vendor and model), then prints a starter configuration for them that
\`dev2mqtt check-config\` accepts. GPIO lines are listed, not configured:
pick the ones that are wired to something.

Options:
  --sys-root DIR   where sysfs is mounted (default /sys)
  --dev-root DIR   where the device nodes are (default /dev)
  --json           print {"found": …, "config": …} as JSON
  -o, --output FILE  write the starter config to FILE (not over an existing one without --force)
  -h, --help       this text
`;

export interface ProbeDeps {
  /** The kernel GPIO chips are asked through (tests: a sim kernel). */
  readonly kernel: () => Kernel;
}

const realKernel: ProbeDeps = { kernel: () => new LibcKernel() };

function chipLines(chip: ChipFound): string[] {
  const used = chip.lines.filter((l) => l.used);
  const free = chip.lines.filter((l) => !l.used);
  const label = (l: ChipFound['lines'][number]): string => (l.name ? `${l.offset}:${l.name}` : String(l.offset));
  const out = [`  ${chip.path}  ${chip.name} '${chip.label}'  ${chip.lines.length} lines, ${used.length} in use`];
  if (used.length) out.push(`      in use: ${used.map((l) => `${label(l)} (${l.consumer || 'unnamed'}, ${l.direction})`).join(', ')}`);
  if (free.length) out.push(`      free:   ${free.map(label).join(' ')}`);
  return out;
}

export function describeFound(f: ProbeResult, roots: ProbeRoots): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]): void => {
    lines.push(title, ...(items.length ? items : ['  (none)']), '');
  };
  section(
    `LEDs (${path.join(roots.sysRoot, 'class/leds')})`,
    f.leds.map((l) => `  ${l.name}  trigger ${l.trigger ?? '?'}, max_brightness ${l.maxBrightness ?? '?'}`),
  );
  section(`GPIO chips (${path.join(roots.devRoot, 'gpiochip*')})`, f.gpiochips.flatMap(chipLines));
  const uarts = f.serial.filter((p) => !/^tty(USB|ACM)/.test(p.name)).map((p) => p.name);
  section('Serial ports', [
    ...f.serial.map((p) => `  ${p.path}  ${p.driver ?? 'no driver'}${p.byId ? `  ${p.byId}` : ''}`),
    ...(uarts.length ? [`  (built-in UARTs ${uarts.join(', ')} are not in the starter config: one may be the serial console)`] : []),
  ]);
  section(
    `Tape drives (${path.join(roots.devRoot, 'nst*')})`,
    f.tapes.map(
      (t) => `  ${t.path}  ${[t.vendor, t.model].filter(Boolean).join(' ') || 'unknown drive'}${t.revision ? ` (rev ${t.revision})` : ''}`,
    ),
  );
  if (f.problems.length)
    section(
      'Could not read',
      f.problems.map((p) => `  ${p}`),
    );
  return lines.join('\n');
}

export async function probeCommand(argv: string[], io: CommandIo, deps: ProbeDeps = realKernel): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'sys-root': { type: 'string' },
      'dev-root': { type: 'string' },
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
  const roots: ProbeRoots = { sysRoot: path.resolve(values['sys-root'] ?? '/sys'), devRoot: path.resolve(values['dev-root'] ?? '/dev') };
  if (values.output && existsSync(values.output) && !values.force)
    throw new UsageError(`${values.output} exists; add --force to replace it`);
  const found = probeMachine(roots, deps.kernel());
  const config = starterConfig(found, roots, new Set(builtinKinds().map((k) => k.kind)));
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  if (values.json) {
    io.out(`${JSON.stringify({ found, config }, null, 2)}\n`);
  } else {
    io.out(`${describeFound(found, roots)}\n`);
  }
  if (values.output) {
    writeFileSync(values.output, configText);
    if (!values.json) io.out(`Starter config written to ${values.output}; check it with: dev2mqtt check-config -c ${values.output}\n`);
  } else if (!values.json) {
    io.out(`Starter config (save it, set mqtt.url to your broker, then: dev2mqtt check-config -c FILE):\n${configText}`);
  }
  return 0;
}
