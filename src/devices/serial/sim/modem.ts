/**
 * The simulated modem: the master side of a real pseudo-terminal, a symlink
 * at the device path pointing at its slave, an AT interpreter behind it, and
 * the modem's control lines (modelled, since a pty has none). "Unplugging"
 * closes the master — the kernel hangs the slave up, exactly what a USB modem
 * leaving does to an open /dev/ttyUSB — and removes the symlink; "plugging"
 * makes a new pty and points the symlink at it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { makeDir } from '../../../make-dir.js';
import type { Arch } from '../../../kernel/arch.js';
import type { Kernel, Watch } from '../../../kernel/kernel.js';
import { openPty, type Pty } from '../../../kernel/pty.js';
import { AtModel, SIM_IDENTITY } from './at-model.js';
import { SimLines } from './lines.js';

/** One plugged-in session: a pty and its lines. A new plug is a new device, counters from zero. */
export interface Plug {
  readonly pty: Pty;
  readonly lines: SimLines;
}

export interface SimModemOptions {
  readonly kernel: Kernel;
  readonly arch: Arch;
  /** The symlink the device opens. */
  readonly linkPath: string;
  readonly log: Logger;
}

export class SimModem {
  readonly at: AtModel;
  readonly #o: SimModemOptions;
  #plug: Plug | undefined;
  #watch: Watch | undefined;
  #input = '';
  readonly #out: Buffer[] = [];
  #outWatch: Watch | undefined;
  readonly #readBuf = Buffer.alloc(4096);
  #ringTimer: NodeJS.Timeout | undefined;
  #stalled = false;
  readonly #backlog: string[] = [];

  constructor(o: SimModemOptions) {
    this.#o = o;
    this.at = new AtModel(SIM_IDENTITY, { call: (active) => this.#plug?.lines.setModemLine('cd', active) });
  }

  get plug(): Plug | undefined {
    return this.#plug;
  }

  /** A new pty, the symlink pointed at its slave. Refuses to replace anything but a symlink. */
  plugIn(): Plug {
    if (this.#plug) return this.#plug;
    const link = this.#o.linkPath;
    const existing = fs.lstatSync(link, { throwIfNoEntry: false });
    if (existing && !existing.isSymbolicLink()) throw new Error(`sim serial: ${link} exists and is not a symlink; refusing to replace it`);
    makeDir(path.dirname(link));
    const pty = openPty(this.#o.kernel);
    const tmp = `${link}.${process.pid}.tmp`;
    try {
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(pty.slavePath, tmp);
      fs.renameSync(tmp, link);
    } catch (e) {
      // A full or read-only stateDir: no modem to open; the pty must not outlive the attempt.
      pty.master.close();
      throw e;
    }
    const lines = new SimLines(this.#o.arch);
    lines.onHostChange = (line, on) => {
      if (line === 'dtr' && !on) {
        const urc = this.at.dtrDropped();
        if (urc) this.#send(`\r\n${urc}\r\n`);
      }
    };
    this.#plug = { pty, lines };
    this.at.inCall = false;
    this.at.ringing = false;
    this.#o.log.debug({ link, slave: pty.slavePath }, 'sim modem plugged in');
    return this.#plug;
  }

  /** Closes the master (the kernel hangs up the slave) and removes the symlink. */
  unplug(): void {
    const plug = this.#plug;
    if (!plug) return;
    this.#plug = undefined;
    this.detach();
    plug.lines.hangUp();
    plug.pty.master.close();
    try {
      const stat = fs.lstatSync(this.#o.linkPath, { throwIfNoEntry: false });
      if (stat?.isSymbolicLink()) fs.rmSync(this.#o.linkPath, { force: true });
    } catch (e) {
      // A read-only or failing stateDir (this runs from the agent's stop, where a throw is uncaught): the
      // link left behind points at no pty, and the next plugIn replaces it.
      this.#o.log.warn({ err: (e as Error).message, link: this.#o.linkPath }, 'sim modem: its link cannot be removed');
    }
    this.#o.log.debug({ link: this.#o.linkPath }, 'sim modem unplugged');
  }

  /** The host opened the slave: start listening (a master with no slave open polls as hung up). */
  attach(plug: Plug): void {
    if (plug !== this.#plug || this.#watch) return;
    this.#input = '';
    this.#watch = plug.pty.master.watch({ readable: true }, () => this.#onReadable(plug));
  }

  detach(): void {
    this.#watch?.stop();
    this.#watch = undefined;
    this.#outWatch?.stop();
    this.#outWatch = undefined;
    this.#out.length = 0;
  }

  /** RI up, `RING` (and +CLIP if enabled), RI down: the trailing edge is what a UART counts. */
  ring(caller = '+15551234567'): void {
    const plug = this.#plug;
    if (!plug) return;
    this.at.ringing = true;
    plug.lines.setModemLine('ri', true);
    this.#send(`\r\nRING\r\n${this.at.clip ? `\r\n+CLIP: "${caller}",145\r\n` : ''}`);
    setImmediate(() => plug.lines.setModemLine('ri', false));
  }

  /**
   * A stalled modem (hung firmware, busy radio) still echoes but answers
   * nothing until it is un-stalled; then it answers what it got, in order.
   */
  stall(on: boolean): void {
    this.#stalled = on;
    if (!on) for (const line of this.#backlog.splice(0)) this.#answer(line);
  }

  /** Sends a line unprompted, framed like a URC (`+CMTI: "SM",3`). */
  unsolicited(line: string): void {
    this.#send(`\r\n${line}\r\n`);
  }

  ringEvery(ms: number): void {
    clearInterval(this.#ringTimer);
    this.#ringTimer = undefined;
    if (ms <= 0) return;
    this.#ringTimer = setInterval(() => {
      if (this.#watch) this.ring();
    }, ms);
    this.#ringTimer.unref();
  }

  stop(): void {
    this.ringEvery(0);
    this.unplug();
  }

  #onReadable(plug: Plug): void {
    for (;;) {
      let n: number | null;
      try {
        n = plug.pty.master.read(this.#readBuf);
      } catch {
        // EIO: the host closed the slave. Stop until it opens it again.
        this.detach();
        return;
      }
      if (n === null || n === 0) return;
      plug.lines.countBytes('tx', n);
      this.#receive(this.#readBuf.subarray(0, n).toString('latin1'));
    }
  }

  /** Echo as it comes (a modem echoes while you type), answer at each CR. */
  #receive(text: string): void {
    if (this.at.echo) this.#send(text);
    this.#input += text;
    let cr: number;
    while ((cr = this.#input.search(/[\r\n]/)) >= 0) {
      const line = this.#input.slice(0, cr);
      this.#input = this.#input.slice(cr + 1);
      if (this.#stalled) this.#backlog.push(line);
      else this.#answer(line);
    }
    if (this.#input.length > 1024) this.#input = '';
  }

  #answer(line: string): void {
    const reply = this.at.execute(line);
    if (reply) this.#send(reply.info.map((l) => `\r\n${l}\r\n`).join('') + `\r\n${reply.final}\r\n`);
  }

  #send(text: string): void {
    const plug = this.#plug;
    if (!plug) return;
    this.#out.push(Buffer.from(text, 'latin1'));
    this.#flushOut(plug);
  }

  #flushOut(plug: Plug): void {
    while (this.#out.length) {
      const head = this.#out[0] as Buffer;
      let n: number | null;
      try {
        n = plug.pty.master.write(head);
      } catch {
        this.#out.length = 0;
        return;
      }
      if (n === null) {
        this.#outWatch ??= plug.pty.master.watch({ readable: false, writable: true }, () => this.#flushOut(plug));
        return;
      }
      plug.lines.countBytes('rx', n);
      if (n < head.length) this.#out[0] = head.subarray(n);
      else this.#out.shift();
    }
    this.#outWatch?.stop();
    this.#outWatch = undefined;
  }
}
