/**
 * pino loggers: JSON for journald and files, pretty on a terminal. Secrets are
 * redacted by key wherever they might appear, and the transport never logs
 * its options object in the first place.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { LogOutput } from './log-output.js';

// Loaded only for a terminal: a service never pays for it (start-up time and memory on a Pi).
const requirePretty = (): typeof PinoPretty => createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;

export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'passwordFile',
  '*.passwordFile',
  'mqtt.password',
  'broker.auth',
  'authorization',
  '*.authorization',
  'key',
  '*.key',
];

export interface LogOptions {
  readonly level: string;
  /** Pretty, colourful lines (a terminal); JSON otherwise. */
  readonly pretty?: boolean;
  /**
   * Where JSON lines go (tests capture them); default stdout through a LogOutput, which drops
   * what a full or failing disk refuses instead of ending the process (log-output.ts).
   */
  readonly destination?: NodeJS.WritableStream | LogOutput;
}

export function createLogger(o: LogOptions): Logger {
  const opts = { level: o.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (o.pretty) {
    // A stream in this thread, not a pino transport: a worker thread would cost ~10 MiB on a Pi.
    return pino(
      opts,
      requirePretty()({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: o.destination ?? 1 }),
    );
  }
  return pino(opts, o.destination ?? new LogOutput(1));
}
