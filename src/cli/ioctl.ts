/** `dev2mqtt ioctl decode|list`: the request catalogue, for any architecture. */
import { parseArgs } from 'node:util';
import { ARCH_NAMES, archByName, hostArch, type Arch } from '../kernel/arch.js';
import { decode, hex } from '../kernel/ioc.js';
import { catalogue, type IoctlRequest } from '../kernel/requests.js';
import { UsageError, type CommandIo } from './io.js';

export const IOCTL_HELP = `Usage:
  dev2mqtt ioctl decode NUMBER [--arch A] [--json]
      Splits a request code into direction, type, number and argument size,
      and names the requests the project knows with that code.
      NUMBER is hex (0x80305402), decimal, or a request name (MTIOCGET).
  dev2mqtt ioctl list [--arch A] [--json]
      Every request the project knows with its value for architecture A.
      --json prints [{name, value, dir, type, typeChar, nr, size, header}],
      value as a 0x… hex string.

Options:
  --arch A   one of ${ARCH_NAMES.join(', ')} (aliases: arm64, arm, x64 …);
             default: this machine's (${safeHostArch()})
  --json     machine-readable output
  -h, --help this text

Example:
  $ dev2mqtt ioctl decode 0x80305402 --arch x86_64
`;

function safeHostArch(): string {
  try {
    return hostArch().name;
  } catch {
    return 'unknown';
  }
}

function pickArch(name: string | undefined): Arch {
  try {
    return name ? archByName(name) : hostArch();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function asJson(r: IoctlRequest | ReturnType<typeof decode>, names: string[]): Record<string, unknown> {
  return {
    ...('name' in r ? { name: r.name } : { names }),
    value: hex(r.value),
    dir: r.dir,
    type: r.type,
    typeChar: r.typeChar,
    nr: r.nr,
    size: r.size,
    ...('header' in r ? { header: r.header } : {}),
  };
}

function parseNumber(text: string, arch: Arch): number {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t) || /^\d+$/.test(t)) {
    const n = Number(t);
    if (n > 0xffffffff) throw new UsageError(`${text} does not fit in 32 bits`);
    return n;
  }
  const cat = catalogue(arch);
  if (cat.has(t.toUpperCase())) return cat.get(t.toUpperCase()).value;
  throw new UsageError(`'${text}' is neither a number nor a request known on ${arch.name}`);
}

export function ioctlCommand(argv: string[], io: CommandIo): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { arch: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    io.out(IOCTL_HELP);
    return sub || values.help ? 0 : 2;
  }
  const arch = pickArch(values.arch);
  const cat = catalogue(arch);
  if (sub === 'list') {
    if (rest.length) throw new UsageError(`ioctl list takes no arguments, got ${rest.join(' ')}`);
    const all = cat.all();
    if (values.json) {
      io.out(
        `${JSON.stringify(
          all.map((r) => asJson(r, [r.name])),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    io.out(`# ioctl requests for ${arch.name}\n`);
    io.out(`${'name'.padEnd(34)}${'value'.padEnd(12)}${'dir'.padEnd(10)}type nr   size  header\n`);
    for (const r of all) {
      io.out(
        `${r.name.padEnd(34)}${hex(r.value).padEnd(12)}${r.dir.padEnd(10)}${r.typeChar.padEnd(5)}${String(r.nr).padEnd(5)}${String(r.size).padEnd(6)}${r.header}\n`,
      );
    }
    return 0;
  }
  if (sub === 'decode') {
    if (rest.length !== 1) throw new UsageError('ioctl decode takes exactly one NUMBER');
    const value = parseNumber(rest[0] ?? '', arch);
    const d = decode(arch, value);
    const names = cat.namesOf(value);
    if (values.json) {
      io.out(`${JSON.stringify({ arch: arch.name, ...asJson(d, names), legacy: d.legacy })}\n`);
      return 0;
    }
    io.out(
      [
        `request   ${hex(value)} (${arch.name})`,
        `direction ${d.dir}${d.legacy ? ' (pre-_IOC number: no direction or size encoded)' : ''}`,
        `type      '${d.typeChar}' (0x${d.type.toString(16)})`,
        `number    ${d.nr} (0x${d.nr.toString(16)})`,
        `size      ${d.size} bytes`,
        `names     ${names.length ? names.join(', ') : '(none known)'}`,
      ].join('\n') + '\n',
    );
    return 0;
  }
  throw new UsageError(`unknown ioctl subcommand '${sub}' (decode, list)`);
}
