/**
 * What the simulated modem answers: a small V.250 / 27.007 command
 * interpreter (basic commands E, V, Q, Z, H, A, D, I, &x, Sn and the extended
 * +CGMI/+CGMM/+CGMR/+CGSN, +CSQ, +CMEE, +CREG, +CLIP, +CPIN, +CFUN). Pure
 * state: the modem around it moves bytes and lines.
 */

export interface AtReply {
  readonly info: string[];
  readonly final: string;
}

export interface ModemIdentity {
  readonly manufacturer: string;
  readonly model: string;
  readonly revision: string;
  readonly imei: string;
}

export const SIM_IDENTITY: ModemIdentity = { manufacturer: 'dev2mqtt', model: 'SIM-MODEM-1', revision: '1.0.0', imei: '356938035643809' };

export interface CallEvents {
  /** A call started (ATA, ATD…;) or ended (ATH, DTR dropped): the modem moves CD. */
  call(active: boolean): void;
}

export class AtModel {
  echo = true;
  cmee = 0;
  clip = false;
  creg = 0;
  cfun = 1;
  rssi = 21;
  ber = 99;
  inCall = false;
  ringing = false;
  readonly #sregs = new Map<number, number>([
    [0, 0],
    [3, 13],
    [4, 10],
    [5, 8],
  ]);

  constructor(
    private readonly identity: ModemIdentity,
    private readonly events: CallEvents,
  ) {}

  /** One command line as received (without its CR): what to answer. Lines not starting with AT are ignored (null). */
  execute(raw: string): AtReply | null {
    const line = raw.trim();
    if (!/^AT/i.test(line)) return null;
    const info: string[] = [];
    let rest = line.slice(2);
    while (rest.length) {
      const c = (rest[0] as string).toUpperCase();
      if (c === ';' || c === ' ') {
        rest = rest.slice(1);
        continue;
      }
      if (c === '+' || c === '^') {
        const end = rest.indexOf(';');
        const cmd = end < 0 ? rest : rest.slice(0, end);
        rest = end < 0 ? '' : rest.slice(end + 1);
        const r = this.#extended(cmd, info);
        if (r) return { info, final: r };
        continue;
      }
      if (c === 'D') return { info, final: this.#dial(rest.slice(1)) };
      const m = /^(&?[A-Z])(\d*)(\??)(?:=(\d+))?/i.exec(rest);
      if (!m) return { info, final: 'ERROR' };
      rest = rest.slice(m[0].length);
      const fail = this.#basic((m[1] as string).toUpperCase(), m[2] ? Number(m[2]) : 0, m[3] === '?', m[4], info);
      if (fail) return { info, final: fail };
    }
    return { info, final: 'OK' };
  }

  /** The host dropped DTR: like AT&D2, a call ends. */
  dtrDropped(): string | undefined {
    if (!this.inCall) return undefined;
    this.#hangUp();
    return 'NO CARRIER';
  }

  #basic(cmd: string, n: number, query: boolean, value: string | undefined, info: string[]): string | undefined {
    switch (cmd) {
      case 'E':
        this.echo = n === 1;
        return undefined;
      case 'V':
      case 'Q':
      case 'L':
      case 'M':
      case 'X':
      case '&C':
      case '&D':
      case '&F':
      case '&K':
      case '&W':
        return undefined;
      case 'Z':
        this.echo = true;
        this.cmee = 0;
        this.clip = false;
        return undefined;
      case 'H':
        this.#hangUp();
        return undefined;
      case 'A':
        if (!this.ringing) return 'NO CARRIER';
        this.ringing = false;
        this.inCall = true;
        this.events.call(true);
        return undefined;
      case 'I':
        info.push(`${this.identity.manufacturer} ${this.identity.model}`, `Revision: ${this.identity.revision}`);
        return undefined;
      case 'S':
        if (query) info.push(String(this.#sregs.get(n) ?? 0).padStart(3, '0'));
        else if (value !== undefined) this.#sregs.set(n, Number(value) & 0xff);
        return undefined;
      default:
        return 'ERROR';
    }
  }

  #dial(number: string): string {
    // Voice calls only (`ATD…;`); a data call has no service to reach here.
    if (!number.trim().endsWith(';')) return 'NO CARRIER';
    if (this.inCall) return 'BUSY';
    this.inCall = true;
    this.events.call(true);
    return 'OK';
  }

  #hangUp(): void {
    this.ringing = false;
    if (!this.inCall) return;
    this.inCall = false;
    this.events.call(false);
  }

  #error(): string {
    return this.cmee === 1 ? '+CME ERROR: 4' : this.cmee === 2 ? '+CME ERROR: operation not supported' : 'ERROR';
  }

  /** `+CSQ`, `+CMEE=2`, `+CREG?`, `+CSQ=?`: a final code when it fails, undefined when it did its part. */
  #extended(cmd: string, info: string[]): string | undefined {
    const m = /^([+^][A-Z0-9]+)(=\?|\?|=(.*))?$/i.exec(cmd.trim());
    if (!m) return this.#error();
    const name = (m[1] as string).toUpperCase();
    const op = m[2] === '=?' ? 'test' : m[2] === '?' ? 'read' : m[2] !== undefined ? 'set' : 'exec';
    const arg = m[3] !== undefined ? Number.parseInt(m[3], 10) : NaN;
    const id = this.identity;
    const setting = (set: (v: number) => void, max: number, show: () => string): string | undefined => {
      if (op === 'read') info.push(show());
      else if (op === 'test') info.push(`${name}: (0-${max})`);
      else if (op === 'set' && Number.isInteger(arg) && arg >= 0 && arg <= max) set(arg);
      else if (op === 'exec') return undefined;
      else return this.#error();
      return undefined;
    };
    switch (name) {
      case '+CGMI':
      case '+GMI':
        info.push(id.manufacturer);
        return undefined;
      case '+CGMM':
      case '+GMM':
        info.push(id.model);
        return undefined;
      case '+CGMR':
      case '+GMR':
        info.push(id.revision);
        return undefined;
      case '+CGSN':
      case '+GSN':
        info.push(id.imei);
        return undefined;
      case '+CSQ':
        if (op === 'test') info.push('+CSQ: (0-31,99),(0-7,99)');
        else if (op === 'exec') info.push(`+CSQ: ${this.rssi},${this.ber}`);
        else return this.#error();
        return undefined;
      case '+CPIN':
        if (op !== 'read') return this.#error();
        info.push('+CPIN: READY');
        return undefined;
      case '+CMEE':
        return setting(
          (v) => {
            this.cmee = v;
          },
          2,
          () => `+CMEE: ${this.cmee}`,
        );
      case '+CREG':
        return setting(
          (v) => {
            this.creg = v;
          },
          2,
          () => `+CREG: ${this.creg},1`,
        );
      case '+CLIP':
        return setting(
          (v) => {
            this.clip = v === 1;
          },
          1,
          () => `+CLIP: ${Number(this.clip)},1`,
        );
      case '+CFUN':
        return setting(
          (v) => {
            this.cfun = v;
          },
          1,
          () => `+CFUN: ${this.cfun}`,
        );
      default:
        return this.#error();
    }
  }
}
