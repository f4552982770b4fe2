/**
 * The words of the AT protocol (V.250 / 3GPP TS 27.007, verbose mode ATV1):
 * what ends a command, what a modem says on its own, and how lines are cut.
 * Pure functions, no I/O.
 */

/** Final result codes: one of them ends every command. Only OK is success. */
const FINAL_WORDS = new Set(['OK', 'ERROR', 'NO CARRIER', 'BUSY', 'NO ANSWER', 'NO DIALTONE']);
const FINAL_PREFIXES = [/^\+CME ERROR:/, /^\+CMS ERROR:/, /^CONNECT(?: .*)?$/];

export function isFinal(line: string): boolean {
  return FINAL_WORDS.has(line) || FINAL_PREFIXES.some((p) => p.test(line));
}

/** Unsolicited result codes of 27.005/27.007 a modem may send at any time. */
export const KNOWN_URC_PREFIXES: readonly string[] = [
  '+CRING',
  '+CLIP',
  '+CCWA',
  '+CMTI',
  '+CMT',
  '+CDSI',
  '+CDS',
  '+CBM',
  '+CREG',
  '+CGREG',
  '+CEREG',
  '+C5GREG',
  '+CUSD',
  '+CIEV',
  '+CGEV',
  '+CSSI',
  '+CSSU',
  '+CTZV',
  '+CTZE',
  '+CPIN',
];
/** Whole-line URCs. */
const URC_WORDS = new Set(['RING']);

/** `+CMTI: "SM",3` → `+CMTI`; `RING` → `RING`; `^RSSI:5` → `^RSSI`; anything else → undefined. */
export function codeOf(line: string): string | undefined {
  if (URC_WORDS.has(line)) return line;
  const m = /^([+^%$#][A-Z0-9_]+)\s*:/i.exec(line);
  return m?.[1]?.toUpperCase();
}

export class UrcMatcher {
  readonly #prefixes: Set<string>;

  constructor(extra: readonly string[] = []) {
    this.#prefixes = new Set([...KNOWN_URC_PREFIXES, ...extra.map((p) => p.toUpperCase().replace(/:$/, ''))]);
  }

  /** A URC the modem is known to send on its own (outside a command, or in the middle of one). */
  isKnown(line: string): boolean {
    if (URC_WORDS.has(line)) return true;
    const code = codeOf(line);
    return code !== undefined && this.#prefixes.has(code);
  }

  /**
   * Whether a line that arrives while `command` runs is not part of its
   * answer. `+CREG: 0,1` answers AT+CREG? but is unsolicited during AT+CSQ: a
   * known URC prefix belongs to the answer only when the command names it.
   * RING is never an answer.
   */
  interrupts(line: string, command: string): boolean {
    if (URC_WORDS.has(line)) return true;
    const code = codeOf(line);
    if (code === undefined || !this.#prefixes.has(code)) return false;
    return !command.toUpperCase().includes(code);
  }
}

/**
 * `"SM",3` → `['SM', '3']`: the parameters after a `+CODE:`, commas inside
 * quotes kept, quotes removed.
 */
export function paramsOf(line: string): string[] {
  const colon = line.indexOf(':');
  if (colon < 0) return [];
  const rest = line.slice(colon + 1).trim();
  if (!rest) return [];
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of rest) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

/**
 * Cuts a byte stream into lines at CR and LF, dropping the empty ones a
 * modem's `\r\n…\r\n` framing makes. A partial line longer than `maxLine`
 * (binary data, a stuck stream) is passed on as it is rather than kept growing.
 */
export class LineSplitter {
  #partial = '';
  constructor(private readonly maxLine = 4096) {}

  feed(chunk: Buffer, onLine: (line: string) => void): void {
    // latin1 keeps one character per byte, so a multi-byte sequence split across reads survives.
    let text = this.#partial + chunk.toString('latin1');
    let at: number;
    while ((at = text.search(/[\r\n]/)) >= 0) {
      const line = text.slice(0, at).trim();
      text = text.slice(at + 1);
      if (line) onLine(Buffer.from(line, 'latin1').toString('utf8'));
    }
    if (text.length > this.maxLine) {
      onLine(Buffer.from(text, 'latin1').toString('utf8'));
      text = '';
    }
    this.#partial = text;
  }

  /** What has come in since the last line end (an SMS `> ` prompt, a half line). */
  get partial(): string {
    return this.#partial;
  }

  reset(): void {
    this.#partial = '';
  }
}
