/**
 * The legacy sysfs GPIO interface (`interface: "sysfs"`), for kernels without
 * the character device. Lines are numbered globally: the chip's `base` plus
 * the offset, and the base moved (0 on older kernels, 512 on a Pi 4 with
 * 6.6, 571 for a Pi 5's pinctrl-rp1), so it is always read from
 * /sys/class/gpio/gpiochipB/base, never assumed. The line is exported if it
 * is not yet, configured through direction/active_low/edge, and unexported
 * on close if we exported it. Edges are waited for the sysfs way: read
 * `value` (which arms the notification), poll(2) for POLLPRI|POLLERR off the
 * event loop, and read it again; a poll that times out re-reads it too, so a
 * missed notification costs at most `pollMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { O, POLL, type Kernel } from '../../kernel/kernel.js';
import { decimal, type Sysfs } from '../../kernel/sysfs.js';
import { isDisconnect } from '../errors.js';
import { settingsOf, type GpioBackend, type GpioOptions, type LineEvents } from './backend.js';

/** How long udev may take to hand a freshly exported line's files to the gpio group. */
const EXPORT_SETTLE_MS = 5000;

export interface SysfsChip {
  /** Its directory, relative to the sysfs root: `class/gpio/gpiochip512`. */
  readonly dir: string;
  readonly base: number;
  readonly ngpio: number;
  readonly label: string;
  /** The character-device name of the same chip (`gpiochip4`), from the `device` link. */
  readonly device: string | undefined;
}

const CLASS = 'class/gpio';
const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** Every gpiochipB directory under class/gpio with its base, size and label. */
export async function sysfsChips(sysfs: Sysfs): Promise<SysfsChip[]> {
  const names = (await sysfs.list(CLASS)).filter((n) => /^gpiochip\d+$/.test(n));
  return Promise.all(
    names.map(async (n) => {
      const dir = `${CLASS}/${n}`;
      const device = await sysfs.readlink(`${dir}/device`).then(basename, () => undefined);
      return {
        dir,
        base: await sysfs.number(`${dir}/base`),
        ngpio: await sysfs.number(`${dir}/ngpio`),
        label: await sysfs.value(`${dir}/label`),
        device,
      };
    }),
  );
}

/** `chip` as a label, a character-device name or path (`gpiochip4`, `/dev/gpiochip4`), or the sysfs directory name. */
export async function findSysfsChip(sysfs: Sysfs, chip: string): Promise<SysfsChip> {
  const chips = await sysfsChips(sysfs);
  const want = chip.startsWith('/dev/') ? basename(chip) : chip;
  const hit = chips.find((c) => c.label === want) ?? chips.find((c) => c.device === want) ?? chips.find((c) => basename(c.dir) === want);
  if (!hit) {
    const found = chips.map((c) => `${basename(c.dir)} '${c.label}' (base ${c.base}${c.device ? `, ${c.device}` : ''})`).join(', ');
    throw new Error(`no sysfs GPIO chip matches '${chip}'; found ${found || 'none'}`);
  }
  return hit;
}

export class SysfsLine implements GpioBackend {
  #dir = '';
  #number = -1;
  #exported = false;
  #running = false;
  #loop: Promise<void> | undefined;
  #where: Record<string, unknown> = {};

  constructor(
    private readonly kernel: Kernel,
    private readonly sysfs: Sysfs,
    private readonly o: GpioOptions,
    private readonly on: LineEvents,
    private readonly log: Logger,
  ) {}

  get where(): Readonly<Record<string, unknown>> {
    return this.#where;
  }

  async open(): Promise<void> {
    const chip = await findSysfsChip(this.sysfs, this.o.chip);
    const offset = Number(this.o.line);
    if (!Number.isInteger(offset) || offset >= chip.ngpio)
      throw new Error(`${chip.dir} has ${chip.ngpio} lines; there is no line ${String(this.o.line)}`);
    this.#number = chip.base + offset;
    this.#dir = `${CLASS}/gpio${this.#number}`;
    this.#where = {
      interface: 'sysfs',
      chip: basename(chip.dir),
      chipLabel: chip.label,
      base: chip.base,
      line: offset,
      sysfsNumber: this.#number,
    };
    if (!(await this.sysfs.exists(this.#dir))) {
      await this.sysfs.write(`${CLASS}/export`, String(this.#number));
      this.#exported = true;
      await this.#settle();
    }
    const s = settingsOf(this.o);
    await this.#attr('active_low', s.activeLow ? '1' : '0');
    if (s.direction === 'out') {
      // "high"/"low" set the direction with a raw (physical) level in one step: no glitch.
      await this.#attr('direction', s.initial ^ (s.activeLow ? 1 : 0) ? 'high' : 'low');
    } else {
      await this.#attr('direction', 'in');
      await this.#attr('edge', s.edge);
      if (s.edge !== 'none') {
        this.#running = true;
        this.#loop = this.#waitForEdges(await this.read());
      }
    }
  }

  async close(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#loop = undefined;
    if (this.#exported) {
      this.#exported = false;
      await this.sysfs.write(`${CLASS}/unexport`, String(this.#number));
    }
  }

  async read(): Promise<0 | 1> {
    return (await this.sysfs.number(`${this.#dir}/value`)) ? 1 : 0;
  }

  async write(value: 0 | 1): Promise<void> {
    await this.#attr('value', String(value));
  }

  #attr(name: string, value: string): Promise<void> {
    return this.sysfs.write(`${this.#dir}/${name}`, value);
  }

  /** After export the kernel creates gpioN at once, but udev may need a moment to make it ours (EACCES until then). */
  async #settle(): Promise<void> {
    const direction = `${this.#dir}/direction`;
    const deadline = Date.now() + EXPORT_SETTLE_MS;
    for (;;) {
      try {
        await this.sysfs.access(direction, 'write');
        return;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code !== 'ENOENT' && code !== 'EACCES') || Date.now() > deadline) throw e;
        await sleep(10);
      }
    }
  }

  async #waitForEdges(initial: 0 | 1): Promise<void> {
    // sysfs_notify's POLLPRI is a property of an open file: this wait goes through the device-node seam.
    const valuePath = this.sysfs.path(`${this.#dir}/value`);
    const wanted = this.o.edge;
    let last = initial;
    let seqno = 0;
    const buf = Buffer.alloc(8);
    try {
      while (this.#running) {
        const file = this.kernel.open(valuePath, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
        try {
          // Reading from offset 0 of a fresh open arms sysfs_notify's POLLPRI for the next change.
          const n = file.read(buf) ?? 0;
          const value = decimal(buf.subarray(0, n).toString('utf8').trim(), valuePath) ? 1 : 0;
          if (value !== last) {
            last = value;
            const edge = value ? 'rising' : 'falling';
            // An edge nobody asked for is no event, but the state still learns the value.
            const events =
              wanted === 'both' || wanted === edge
                ? ([
                    { edge, timestampNs: process.hrtime.bigint(), offset: Number(this.#where.line), seqno: ++seqno, lineSeqno: seqno },
                  ] as const)
                : [];
            this.on.edges(events, value);
          }
          await file.poll(POLL.PRI | POLL.ERR, this.o.pollMs > 0 ? this.o.pollMs : 1000);
        } finally {
          file.close();
        }
      }
    } catch (e) {
      // Without this loop the line reports nothing: hand it back to the agent to reopen.
      this.#running = false;
      this.log.warn({ err: e, disconnected: isDisconnect(e) }, 'waiting for sysfs GPIO edges failed');
      this.on.lost(e as Error);
    }
  }
}
