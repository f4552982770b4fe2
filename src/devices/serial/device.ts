/**
 * A serial device: one port, the AT engine reading its lines, the modem-line
 * watcher, the state polls, and the state they add up to. Opening reapplies
 * the current line settings (the options, changed by `configure`), so a USB
 * modem that was unplugged comes back talking as before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelError } from '../../kernel/errors.js';
import type { DeviceFile } from '../../kernel/kernel.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { CommandError } from '../errors.js';
import { codeOf, LineSplitter, paramsOf, UrcMatcher } from './at-codes.js';
import { AtEngine, type AtAnswer } from './at-engine.js';
import { ModemLines, type Lines } from './modem-lines.js';
import { settingsOf, type LineSettings, type SerialOptions } from './options.js';
import { parseCsq, startAtPolls, type PollResult, type SignalQuality } from './polls.js';
import { SerialPort, type FlushQueue, type PortStats } from './port.js';
import { RxBuffer } from './rx-buffer.js';

export class SerialDevice implements Device {
  readonly path: string;
  readonly #ctx: DeviceContext<SerialOptions>;
  readonly #stats: PortStats = { rxBytes: 0, txBytes: 0 };
  readonly #splitter = new LineSplitter();
  readonly #rx: RxBuffer;
  readonly #engine: AtEngine;
  #polls: Poll[] = [];
  #settings: LineSettings;
  #applied: LineSettings | undefined;
  #port: SerialPort | undefined;
  #lines: ModemLines | undefined;
  #lineWatch: 'off' | 'watching' | 'unsupported' | 'failed' = 'off';
  #signal: SignalQuality | null = null;
  readonly #pollResults: Record<string, PollResult> = {};

  constructor(ctx: DeviceContext<SerialOptions>, path: string) {
    this.#ctx = ctx;
    this.path = path;
    this.#settings = settingsOf(ctx.options);
    this.#rx = new RxBuffer(ctx.options.rxBufferBytes);
    this.#engine = new AtEngine({
      write: (data) => this.#requirePort().write(data),
      discardInput: () => {
        this.#port?.flush('in');
        this.#splitter.reset();
        this.#rx.clear();
      },
      urcs: new UrcMatcher(ctx.options.urcPrefixes),
      unsolicited: ctx.options.unsolicited,
      onUnsolicited: (line, during) =>
        this.#ctx.emit('urc', { line, code: codeOf(line) ?? null, params: paramsOf(line), ...(during ? { during } : {}) }),
      log: ctx.log,
    });
  }

  /** How long `at` waits for a final result code unless told otherwise. */
  get atTimeoutMs(): number {
    return this.#ctx.options.atTimeoutMs;
  }

  async open(): Promise<void> {
    if (this.#port?.alive) return;
    await this.close();
    const { port, applied, adjusted } = SerialPort.open(this.#ctx.kernel, this.path, this.#settings, {
      exclusive: this.#ctx.options.exclusive,
      stats: this.#stats,
      handlers: { data: (chunk) => this.#onData(chunk), lost: (err) => this.#onLost(err) },
    });
    if (adjusted.length) this.#ctx.log.warn({ requested: this.#settings, applied, adjusted }, 'the driver adjusted the line settings');
    if (port.termiosFallback) {
      this.#ctx.log.warn({ reason: port.termiosFallback }, 'no termios2 on this port: plain termios, standard rates only');
    }
    this.#port = port;
    this.#applied = applied;
    this.#engine.reset();
    this.#splitter.reset();
    this.#rx.clear();
    this.#lines = new ModemLines(port.file, this.#ctx.kernel.arch);
    if (this.#ctx.options.watchLines) this.#watchLines(this.#lines);
    this.#polls = startAtPolls(
      this.#ctx,
      this.#ctx.options.polls,
      this.#ctx.options.atTimeoutMs,
      (command, timeoutMs, signal) => this.at(command, timeoutMs, signal),
      (command, result) => this.#onPoll(command, result),
    );
    this.#ctx.stateChanged();
  }

  async close(): Promise<void> {
    this.#stopPolls();
    this.#lines?.stop();
    this.#lines = undefined;
    this.#lineWatch = 'off';
    const port = this.#port;
    this.#port = undefined;
    this.#engine.abort(new CommandError('unavailable', `serial port ${this.path} was closed`));
    this.#rx.clear();
    await port?.close();
  }

  /** The tty, for raw ioctls (security.rawIoctl). */
  rawFile(): DeviceFile | undefined {
    return this.#port?.alive ? this.#port.file : undefined;
  }

  state(): Record<string, unknown> {
    const port = this.#port?.alive ? this.#port : undefined;
    const s = this.#applied ?? this.#settings;
    const lines = port && this.#lines ? attempt(() => this.#lines?.get() ?? null) : { value: null };
    return {
      open: port !== undefined,
      path: this.path,
      termios: port?.termios ?? null,
      ...s,
      lines: lines.value,
      ...(lines.error ? { linesError: lines.error } : {}),
      lineEvents: this.#lineWatch,
      counters: port && this.#lines ? attempt(() => this.#lines?.counters() ?? null).value : null,
      rxBytes: this.#stats.rxBytes,
      txBytes: this.#stats.txBytes,
      inQueue: port ? attempt(() => port.inQueue()).value : null,
      outQueue: port ? attempt(() => port.outQueue()).value : null,
      rxBuffered: this.#rx.size,
      rxDropped: this.#rx.dropped,
      signal: this.#signal,
      polls: this.#pollResults,
    };
  }

  // ---- what the commands do -------------------------------------------------

  at(command: string, timeoutMs: number, signal?: AbortSignal): Promise<AtAnswer> {
    this.#requirePort();
    return this.#engine.run(command, timeoutMs, signal);
  }

  async write(data: Buffer, drain: boolean): Promise<{ bytes: number }> {
    const port = this.#requirePort();
    await port.write(data);
    if (drain) await port.drain();
    this.#ctx.stateChanged();
    return { bytes: data.length };
  }

  /** Bytes received outside AT commands: what is buffered, else what arrives within `timeoutMs` (maybe nothing). */
  async read(maxBytes: number, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    this.#requirePort();
    await this.#rx.wait(timeoutMs, signal);
    return this.#rx.take(maxBytes);
  }

  lines(): Lines {
    return this.#requireLines().get();
  }

  setLines(want: { dtr?: boolean | undefined; rts?: boolean | undefined }): Lines {
    const lines = this.#requireLines().set(want);
    this.#ctx.stateChanged();
    return lines;
  }

  configure(change: Partial<LineSettings>): LineSettings & { adjusted: string[] } {
    const port = this.#requirePort();
    const wanted: LineSettings = { ...this.#settings, ...definedOnly(change) };
    const { applied, adjusted } = port.configure(wanted);
    this.#settings = wanted;
    this.#applied = applied;
    this.#ctx.stateChanged();
    return { ...applied, adjusted };
  }

  /** Without `ms`: the driver's standard break (TCSBRK 0). With it: TIOCSBRK, wait, TIOCCBRK. */
  async sendBreak(ms: number | undefined, signal: AbortSignal): Promise<void> {
    const port = this.#requirePort();
    if (ms === undefined) return port.sendBreak();
    port.setBreak(true);
    try {
      await sleep(ms, undefined, { signal }).catch(() => undefined);
    } finally {
      if (port.alive) port.setBreak(false);
    }
  }

  flush(queue: FlushQueue): void {
    this.#requirePort().flush(queue);
    if (queue !== 'out') {
      this.#rx.clear();
      this.#splitter.reset();
    }
  }

  // ---- inside -----------------------------------------------------------------

  #requirePort(): SerialPort {
    const port = this.#port;
    if (!port?.alive) throw new CommandError('unavailable', `serial port ${this.path} is not open`);
    return port;
  }

  #requireLines(): ModemLines {
    this.#requirePort();
    return this.#lines as ModemLines;
  }

  #onData(chunk: Buffer): void {
    // Bytes that answer an AT command belong to it; the rest is there for `read`.
    if (!this.#engine.busy) this.#rx.push(chunk);
    this.#splitter.feed(chunk, (line) => this.#engine.onLine(line));
  }

  #onLost(err: KernelError): void {
    this.#ctx.log.warn({ err: err.message }, 'serial port lost');
    this.#stopPolls();
    this.#lines?.stop();
    this.#engine.abort(err);
    this.#rx.clear();
    this.#ctx.lost(err);
    this.#ctx.stateChanged();
  }

  #watchLines(lines: ModemLines): void {
    this.#lineWatch = 'watching';
    void lines
      .watch((change) => {
        this.#ctx.emit('lines', { changed: change.changed, lines: change.lines, counters: change.counters });
        this.#ctx.stateChanged();
      })
      .then((why) => {
        if (this.#lines !== lines) return;
        if (why === 'unsupported') {
          this.#lineWatch = 'unsupported';
          this.#ctx.log.info(`${this.path} has no modem-line change events (TIOCMIWAIT unsupported): no lines events`);
        } else if (why !== 'stopped') {
          this.#lineWatch = 'failed';
          this.#ctx.log.warn({ err: why.message }, 'modem-line watcher ended');
        }
      });
  }

  #stopPolls(): void {
    for (const p of this.#polls.splice(0)) p.stop();
  }

  #onPoll(command: string, result: PollResult): void {
    this.#pollResults[command] = result;
    if ('lines' in result) {
      const csq = parseCsq(result.lines);
      if (csq) this.#signal = csq;
    }
    this.#ctx.stateChanged();
  }
}

function attempt<T>(f: () => T): { value: T | null; error?: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { value: null, error: (e as { code?: string }).code ?? String(e) };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
