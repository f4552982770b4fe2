/**
 * A modem in a child process, holding the master side of a real pty (fd 3)
 * through Node's own tty streams — not through our kernel core, so the core
 * meets an independent counterpart. The test gives it rules (command → reply
 * chunks, each chunk a separate write) and can make it send URCs, change its
 * echo, or close the master (an unplug). Everything it receives and sends is
 * logged back in order, so tests assert sequences, never durations.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { openPty } from '../../../src/kernel/pty.js';

export interface Rule {
  /** The command line as the modem receives it (without CR), compared exactly. */
  readonly on: string;
  /** Reply chunks; each is written separately, after the previous one was read by nobody in particular. */
  readonly reply: readonly string[];
  /** Send nothing until the test says `release(on)` (a modem that answers late or never). */
  readonly hold?: boolean;
}

export type LogEntry = { recv: string } | { sent: string } | { closed: true };

const MODEM_JS = String.raw`
import tty from 'node:tty';
const input = new tty.ReadStream(3);
const output = new tty.WriteStream(3);
let rules = [];
let echo = true;
let buf = '';
const held = new Map();
const log = (e) => process.send({ log: e });
const sendChunks = async (chunks) => {
  for (const c of chunks) {
    await new Promise((r) => output.write(c, r));
    log({ sent: c });
    // Let the reader see each chunk on its own before the next one goes out.
    await new Promise((r) => setTimeout(r, 20));
  }
};
input.on('data', (d) => {
  const text = d.toString('latin1');
  if (echo) output.write(text);
  buf += text;
  let i;
  while ((i = buf.search(/[\r\n]/)) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!line) continue;
    log({ recv: line });
    const rule = rules.find((r) => r.on === line);
    if (!rule) continue;
    if (rule.hold) held.set(rule.on, rule.reply);
    else void sendChunks(rule.reply);
  }
});
input.on('error', () => {});
process.on('message', async (m) => {
  if (m.rules) rules = m.rules;
  if (m.echo !== undefined) echo = m.echo;
  if (m.send) await sendChunks(m.send);
  if (m.release) { const r = held.get(m.release); held.delete(m.release); if (r) await sendChunks(r); }
  if (m.close) { input.destroy(); output.destroy(); log({ closed: true }); process.disconnect(); return; }
  process.send({ ack: m.seq });
});
process.send({ ready: true });
`;

export class ScriptedModem {
  readonly log: LogEntry[] = [];
  readonly slavePath: string;
  readonly #child: ChildProcess;
  #seq = 0;
  readonly #acks = new Map<number, () => void>();
  readonly #waiters = new Set<() => void>();
  readonly ready: Promise<void>;

  private constructor(child: ChildProcess, slavePath: string) {
    this.#child = child;
    this.slavePath = slavePath;
    this.ready = new Promise((resolve) => {
      child.on('message', (m: { ready?: boolean; log?: LogEntry; ack?: number }) => {
        if (m.ready) resolve();
        if (m.log) {
          this.log.push(m.log);
          for (const w of [...this.#waiters]) w();
        }
        if (m.ack !== undefined) this.#acks.get(m.ack)?.();
      });
    });
  }

  /** Opens a pty here, hands its master to a new modem process, and keeps only the slave's path. */
  static async start(rules: readonly Rule[] = []): Promise<ScriptedModem> {
    const { master, slavePath } = openPty(new LibcKernel());
    const child = spawn(process.execPath, ['--input-type=module', '-e', MODEM_JS], {
      stdio: ['ignore', 'inherit', 'inherit', master.fd, 'ipc'],
    });
    master.close();
    const modem = new ScriptedModem(child, slavePath);
    await modem.ready;
    await modem.#tell({ rules });
    return modem;
  }

  rules(rules: readonly Rule[]): Promise<void> {
    return this.#tell({ rules });
  }
  echo(on: boolean): Promise<void> {
    return this.#tell({ echo: on });
  }
  /** Writes these chunks unprompted (URCs, late answers). */
  send(...chunks: string[]): Promise<void> {
    return this.#tell({ send: chunks });
  }
  release(on: string): Promise<void> {
    return this.#tell({ release: on });
  }

  /** Closes the master and ends the process: the slave is hung up. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.send({ close: true });
    await exited;
  }

  /** Resolves once the log has an entry matching `pred`. */
  async until(pred: (e: LogEntry) => boolean): Promise<LogEntry> {
    for (;;) {
      const hit = this.log.find(pred);
      if (hit) return hit;
      await new Promise<void>((r) => {
        const w = (): void => {
          this.#waiters.delete(w);
          r();
        };
        this.#waiters.add(w);
      });
    }
  }

  #tell(msg: Record<string, unknown>): Promise<void> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      this.#acks.set(seq, () => {
        this.#acks.delete(seq);
        resolve();
      });
      this.#child.send({ ...msg, seq });
    });
  }
}

/** A modem's framing of an information line or final code. */
export const framed = (...lines: string[]): string => lines.map((l) => `\r\n${l}\r\n`).join('');
