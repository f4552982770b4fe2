/**
 * Raw ioctl passthrough (`security.rawIoctl`): a request a device's kind has
 * no command for, sent to the device file the device holds open — for
 * diagnostics on a real machine. It is off unless the config lists request
 * names for that device: the command `ioctl` is then `forbidden` for every
 * other device and every request not listed. Only requests of the catalogue
 * (src/kernel/requests.ts) can be named, so the argument's shape is known:
 * nothing, an int by value, a pointer to an int, or a struct of the size this
 * architecture gives it. Requests that hand back a new file descriptor are
 * refused in the config, since the passthrough would leak it. It runs in the
 * device's queue, off the event loop (ioctlBlocking), like any command.
 *
 *   {base}/{node}/{device}/cmd/ioctl  {"request": "TIOCMGET"}
 *   {"request": "TCSETS2", "arg": "<the struct as hex>", "encoding": "hex"}
 */
import { REQUEST_NAME_PATTERN } from '../config/schema.js';
import { CommandError } from '../devices/errors.js';
import { command, type CommandSpec, type Device } from '../devices/kind.js';
import type { Arch } from '../kernel/arch.js';
import { decode, intArg, readInt } from '../kernel/codec.js';
import { sizeOf } from '../kernel/ctypes.js';
import { hex } from '../kernel/ioc.js';
import type { IoctlArg } from '../kernel/kernel.js';
import { catalogue, type IoctlRequest } from '../kernel/requests.js';
import { s, type Issue } from '../schema/schema.js';

export const RAW_IOCTL_COMMAND = 'ioctl';

/** Requests that return a new file descriptor: nothing would ever close it. */
const NEW_FD = new Set(['GPIO_V2_GET_LINE_IOCTL', 'TIOCGPTPEER']);

/** Config problems of security.rawIoctl: unknown devices, unknown requests, fd-returning ones. */
export function rawIoctlProblems(allow: Readonly<Record<string, readonly string[]>>, deviceIds: ReadonlySet<string>, arch: Arch): Issue[] {
  const cat = catalogue(arch);
  const issues: Issue[] = [];
  for (const [device, names] of Object.entries(allow)) {
    const at = `security.rawIoctl.${device}`;
    if (!deviceIds.has(device)) issues.push({ path: at, message: `no device '${device}' is configured` });
    for (const name of names) {
      if (!cat.has(name))
        issues.push({ path: at, message: `${name} is not a request the catalogue knows on ${arch.name} (dev2mqtt ioctl list)` });
      else if (NEW_FD.has(name))
        issues.push({ path: at, message: `${name} hands back a new file descriptor, which the passthrough would leak: not allowed` });
    }
  }
  return issues;
}

const argsSchema = s.object({
  request: s
    .string({ pattern: REQUEST_NAME_PATTERN, patternText: 'a request name such as TIOCMGET' })
    .doc('a request name the config allows for this device'),
  arg: s
    .union(s.int(), s.string({ maxLength: 65_536 }))
    .optional()
    .doc('an int (by value, or for a pointer to an int), or the struct as hex/base64'),
  encoding: s
    .enum(['hex', 'base64'] as const)
    .default('hex')
    .doc('how a struct `arg` is written, and how the result gives it back'),
});

interface RawArgs {
  readonly request: string;
  readonly arg?: number | string;
  readonly encoding: 'hex' | 'base64';
}

const INT_MIN = -(2 ** 31);
const UINT_MAX = 2 ** 32 - 1;

function bytesOf(text: string, encoding: 'hex' | 'base64', name: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  const ok = encoding === 'hex' ? /^([0-9a-fA-F]{2})*$/.test(clean) : /^[A-Za-z0-9+/]*={0,2}$/.test(clean) && clean.length % 4 === 0;
  if (!ok) throw new CommandError('bad_args', `arg of ${name} is not ${encoding === 'hex' ? 'an even number of hex digits' : 'base64'}`);
  return Buffer.from(clean, encoding);
}

/** The passthrough for one device: the requests it may send, and the command that sends them. */
export class RawIoctl {
  readonly spec: CommandSpec<Device, unknown>;
  readonly #allowed: ReadonlySet<string>;

  constructor(
    readonly device: string,
    allowed: readonly string[],
    readonly arch: Arch,
  ) {
    this.#allowed = new Set(allowed);
    this.spec = command<Device, RawArgs>({
      description: `raw ioctl passthrough (security.rawIoctl): ${[...this.#allowed].join(', ')}`,
      args: argsSchema,
      run: (dev, a) => this.#run(dev, a),
    });
  }

  /** Throws `forbidden` unless the config allows this request on this device; checked before the command is queued. */
  authorize(args: unknown): IoctlRequest {
    const name = (args as RawArgs).request;
    if (!this.#allowed.has(name)) {
      throw new CommandError(
        'forbidden',
        `${name} is not allowed on ${this.device} (security.rawIoctl.${this.device}: ${[...this.#allowed].join(', ')})`,
      );
    }
    return catalogue(this.arch).get(name);
  }

  async #run(dev: Device, a: RawArgs): Promise<Record<string, unknown>> {
    const req = this.authorize(a);
    const file = dev.rawFile?.();
    if (!file) throw new CommandError('unavailable', `${this.device} has no open device file now (see its availability topic)`);
    const { value, buf } = this.#argument(req, a);
    const ret = await file.ioctlBlocking(req, value);
    const out: Record<string, unknown> = { request: req.name, code: hex(req.value), ret };
    if (req.arg.kind === 'int-pointer' && buf) out.int = readInt(this.arch, buf);
    if (req.arg.kind === 'struct' && buf) {
      out.data = buf.toString(a.encoding);
      out.encoding = a.encoding;
      out.struct = decode(req.arg.struct, this.arch, buf);
    }
    return out;
  }

  /** What to pass for this request, from the command's `arg`; the buffer the kernel fills, if any. */
  #argument(req: IoctlRequest, a: RawArgs): { value: IoctlArg; buf?: Buffer } {
    const kind = req.arg;
    const int = (required: boolean): number => {
      if (a.arg === undefined && !required) return 0;
      if (typeof a.arg !== 'number' || a.arg < INT_MIN || a.arg > UINT_MAX) {
        throw new CommandError('bad_args', `${req.name} takes an int (${INT_MIN} to ${UINT_MAX}) in arg`);
      }
      return a.arg;
    };
    switch (kind.kind) {
      case 'none':
        if (a.arg !== undefined) throw new CommandError('bad_args', `${req.name} takes no argument`);
        return { value: undefined };
      case 'int':
        return { value: int(true) };
      case 'int-pointer': {
        const buf = intArg(this.arch, int(false) | 0);
        return { value: buf, buf };
      }
      case 'struct': {
        const size = sizeOf(kind.struct, this.arch);
        if (a.arg === undefined) {
          // Only a request the kernel fills may start from zeros; one it reads needs its struct.
          if (req.dir !== 'read')
            throw new CommandError(
              'bad_args',
              `${req.name} needs its struct ${kind.struct.name} (${size} bytes on ${this.arch.name}) in arg`,
            );
          const buf = Buffer.alloc(size);
          return { value: buf, buf };
        }
        if (typeof a.arg !== 'string')
          throw new CommandError('bad_args', `${req.name} takes its struct ${kind.struct.name} as a ${a.encoding} string in arg`);
        const buf = bytesOf(a.arg, a.encoding, req.name);
        if (buf.length !== size)
          throw new CommandError(
            'bad_args',
            `${req.name} needs ${size} bytes of struct ${kind.struct.name} on ${this.arch.name}, got ${buf.length}`,
          );
        return { value: buf, buf };
      }
    }
  }
}
