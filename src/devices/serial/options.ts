/**
 * What a `serial` device is configured with. The line settings double as the
 * `configure` command's arguments, and are what the device reapplies on every
 * (re)open — after a USB modem comes back, it talks at the same speed.
 */
import path from 'node:path';
import { s, type Infer } from '../../schema/schema.js';

export const PARITIES = ['none', 'even', 'odd', 'mark', 'space'] as const;
export type Parity = (typeof PARITIES)[number];

/** A sane upper bound: the fastest Bnnn is 4 Mbit/s; FTDI and CP210x parts top out around 12 Mbit/s. */
export const MAX_BAUD = 16_000_000;

export interface LineSettings {
  readonly baud: number;
  readonly dataBits: number;
  readonly parity: Parity;
  readonly stopBits: number;
  readonly rtscts: boolean;
}

const baud = s.int({ min: 1, max: MAX_BAUD }).doc('bit/s; standard rates use their Bnnn constant, any other goes through BOTHER');
const dataBits = s.int({ min: 5, max: 8 });
const parity = s.enum(PARITIES, { caseInsensitive: true });
const stopBits = s.int({ min: 1, max: 2 });
const rtscts = s.boolean().doc('RTS/CTS hardware flow control');

export const DEFAULT_SETTINGS: LineSettings = { baud: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false };

/** The `configure` command: every field optional, the rest stays as it is. */
export const configureArgs = s.object({
  baud: baud.optional(),
  dataBits: dataBits.optional(),
  parity: parity.optional(),
  stopBits: stopBits.optional(),
  rtscts: rtscts.optional(),
});

const poll = s.object({
  command: s.string({
    minLength: 2,
    maxLength: 256,
    pattern: /^AT[\x20-\x7e]*$/i,
    patternText: 'an AT command (printable ASCII, starting with AT)',
  }),
  everyMs: s.int({ min: 1000, max: 86_400_000 }),
  timeoutMs: s.int({ min: 100, max: 600_000 }).optional(),
});

const common = {
  baud: baud.default(DEFAULT_SETTINGS.baud),
  dataBits: dataBits.default(DEFAULT_SETTINGS.dataBits),
  parity: parity.default(DEFAULT_SETTINGS.parity),
  stopBits: stopBits.default(DEFAULT_SETTINGS.stopBits),
  rtscts: rtscts.default(DEFAULT_SETTINGS.rtscts),
  exclusive: s.boolean().default(true).doc('take the port with TIOCEXCL so nothing else opens it meanwhile'),
  atTimeoutMs: s
    .int({ min: 10, max: 600_000 })
    .default(10_000)
    .doc('how long `at` waits for a final result code unless the command says otherwise'),
  polls: s.array(poll, { maxItems: 16 }).default([]).doc('AT commands run every `everyMs` through the device queue; +CSQ fills `signal`'),
  unsolicited: s
    .enum(['all', 'known', 'off'] as const)
    .default('all')
    .doc('which lines outside a command become `urc` events: every line, known URCs only, or none'),
  urcPrefixes: s
    .array(s.string({ minLength: 1, maxLength: 32 }), { maxItems: 64 })
    .default([])
    .doc('more unsolicited result codes of your modem, e.g. "+QIND" or "^RSSI"'),
  watchLines: s.boolean().default(true).doc('publish `lines` events on CTS/DSR/CD/RI changes (TIOCMIWAIT)'),
  identify: s
    .boolean()
    .default(false)
    .doc('modems: after each open, ask AT+CGMI/+CGMM/+CGMR/+CGSN once (model and IMEI in `modem`, and in Home Assistant)'),
  rxBufferBytes: s
    .int({ min: 256, max: 1 << 20 })
    .default(65_536)
    .doc('bytes kept for `read` between commands; older ones are dropped'),
};

const pathOption = s.string({ minLength: 1, maxLength: 4096, pattern: /^\//, patternText: 'an absolute path' });

export const realOptions = s.object({ path: pathOption, ...common });
export const simOptions = s.object({
  path: pathOption.optional().doc('where the sim puts a symlink to its pty (default: in the device state directory)'),
  ...common,
  simRingEveryMs: s.int({ min: 0, max: 86_400_000 }).default(0).doc('sim only: the modem rings this often (0: never)'),
});

/** Both shapes: `path` is required on real hardware, `simRingEveryMs` exists only in the sim. */
export type SerialOptions = Omit<Infer<typeof realOptions>, 'path'> & { path?: string | undefined; simRingEveryMs?: number | undefined };

export function settingsOf(o: SerialOptions): LineSettings {
  return { baud: o.baud, dataBits: o.dataBits, parity: o.parity, stopBits: o.stopBits, rtscts: o.rtscts };
}

/** The sim's symlink to its pty: the configured path, or one in the device's state directory. */
export function simDevicePath(options: { path?: string | undefined }, stateDir: string): string {
  return options.path ?? path.join(stateDir, 'ttySIM');
}
