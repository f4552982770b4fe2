/** The `serial` commands of the contract: arguments, timeouts, and what each one does. */
import { s } from '../../schema/schema.js';
import { command, type CommandSpec } from '../kind.js';
import { CommandError } from '../errors.js';
import { errorDetail } from './at-engine.js';
import { decodeData, encodeData, encodingProblem, encodingSchema } from './data-encoding.js';
import type { SerialDevice } from './device.js';
import { configureArgs } from './options.js';

/** Printable text, no CR/LF: the engine adds the CR, and a second line would be a second command. */
const atCommand = s.string({
  minLength: 1,
  maxLength: 1024,
  // eslint-disable-next-line no-control-regex -- a NUL is exactly what this pattern refuses
  pattern: /^[^\r\n\x00]+$/,
  patternText: 'one line of text (no CR, LF or NUL)',
});

/**
 * How long a handler's own wait may be when the payload set `timeoutMs`: the
 * agent times the whole command with it (queue wait included), so the
 * handler stops a little earlier and can still answer with what it has —
 * the lines an AT command did get, the bytes a read did see.
 */
export function ownWait(requestedTimeoutMs: number): number {
  return requestedTimeoutMs - Math.min(250, Math.floor(requestedTimeoutMs / 10));
}

const READ_WAIT_MS = 1000;

export const serialCommands: Readonly<Record<string, CommandSpec<SerialDevice, unknown>>> = {
  at: command({
    description: 'Sends an AT command and returns its answer lines and final result code; anything but OK fails with device_error',
    args: s.object({
      command: atCommand,
      timeoutMs: s
        .int({ min: 10, max: 600_000 })
        .optional()
        .doc('wait this long for the final result code (default: the atTimeoutMs option)'),
    }),
    timeoutMs: 630_000,
    async run(d, a, ctx) {
      // The payload's timeoutMs reaches us through the context (the agent takes it out of the arguments).
      const wait = a.timeoutMs ?? (ctx.requestedTimeoutMs !== undefined ? ownWait(ctx.requestedTimeoutMs) : d.atTimeoutMs);
      const answer = await d.at(a.command, wait, ctx.signal);
      if (answer.final !== 'OK') {
        throw new CommandError('device_error', `${a.command} answered ${answer.final}`, {
          final: answer.final,
          lines: answer.lines,
          ...errorDetail(answer.final),
        });
      }
      return answer;
    },
  }),
  write: command({
    description: 'Writes bytes to the line as they are (no CR added)',
    args: s
      .object({
        data: s.string({ maxLength: 1 << 20 }),
        encoding: encodingSchema.default('utf8'),
        drain: s.boolean().default(false).doc('also wait until the bytes are on the wire (tcdrain)'),
      })
      .refine((a) => encodingProblem(a.data, a.encoding)),
    timeoutMs: 30_000,
    run: (d, a) => d.write(decodeData(a.data, a.encoding), a.drain),
  }),
  read: command({
    description: 'Returns bytes received outside AT commands: those buffered, or the first to arrive within timeoutMs',
    args: s.object({
      maxBytes: s.int({ min: 1, max: 1 << 20 }).default(4096),
      timeoutMs: s.int({ min: 0, max: 600_000 }).optional().doc(`wait this long for the first bytes (default ${READ_WAIT_MS})`),
      encoding: encodingSchema.default('utf8'),
    }),
    timeoutMs: 630_000,
    async run(d, a, ctx) {
      const wait = a.timeoutMs ?? (ctx.requestedTimeoutMs !== undefined ? ownWait(ctx.requestedTimeoutMs) : READ_WAIT_MS);
      const bytes = await d.read(a.maxBytes, wait, ctx.signal);
      return { data: encodeData(bytes, a.encoding), encoding: a.encoding, bytes: bytes.length };
    },
  }),
  lines: command({
    description: 'Reads the modem control lines (TIOCMGET)',
    args: s.none(),
    run: (d) => d.lines(),
  }),
  setLines: command({
    description: 'Raises (true) or drops (false) DTR and RTS (TIOCMBIS/TIOCMBIC); returns every line after',
    args: s
      .object({ dtr: s.boolean().optional(), rts: s.boolean().optional() })
      .refine((a) => (a.dtr === undefined && a.rts === undefined ? 'give dtr, rts or both' : undefined)),
    run: (d, a) => d.setLines(a),
  }),
  configure: command({
    description: 'Changes speed, data bits, parity, stop bits or RTS/CTS; returns what the driver applied. Kept across reopens',
    args: configureArgs,
    run: (d, a) => d.configure(a),
  }),
  break: command({
    description: "Sends a break: the driver's standard one, or one of `ms` milliseconds",
    args: s.object({ ms: s.int({ min: 1, max: 10_000 }).optional() }),
    timeoutMs: 15_000,
    async run(d, a, ctx) {
      await d.sendBreak(a.ms, ctx.signal);
      return { ms: a.ms ?? null };
    },
  }),
  flush: command({
    description: 'Discards input not read yet, output not sent yet, or both (TCFLSH)',
    args: s.object({ queue: s.enum(['in', 'out', 'both'] as const).default('both') }),
    run(d, a) {
      d.flush(a.queue);
      return { queue: a.queue };
    },
  }),
  get: command({
    description: 'Returns the device state',
    args: s.none(),
    run: (d) => d.state(),
  }),
};
