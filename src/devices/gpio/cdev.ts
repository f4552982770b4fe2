/**
 * A line held through the GPIO character device (uapi v2): requested with the
 * consumer label `dev2mqtt`, edge events read from the request fd when the
 * event loop reports it readable (never a blocking read), released by close().
 */
import type { Logger } from 'pino';
import { KernelError } from '../../kernel/errors.js';
import type { DeviceFile, Kernel, Watch } from '../../kernel/kernel.js';
import { isDisconnect } from '../errors.js';
import { settingsOf, type GpioBackend, type GpioOptions, type LineEvents } from './backend.js';
import { openChip, resolveLine } from './chip.js';
import { requestLine, type LineRequest } from './uapi.js';

export const CONSUMER = 'dev2mqtt';

export class CdevLine implements GpioBackend {
  #line: LineRequest | undefined;
  #watch: Watch | undefined;
  #where: Record<string, unknown> = {};

  constructor(
    readonly kernel: Kernel,
    private readonly o: GpioOptions,
    private readonly on: LineEvents,
    private readonly log: Logger,
  ) {}

  get where(): Readonly<Record<string, unknown>> {
    return this.#where;
  }

  /** The chip path and offset once open: the sim's drive() needs them. */
  get chipPath(): string | undefined {
    return this.#where.chip as string | undefined;
  }
  get offset(): number | undefined {
    return this.#line?.offset;
  }

  async open(): Promise<void> {
    const chip = openChip(this.kernel, this.o.chip);
    try {
      const { offset, name } = resolveLine(this.kernel, chip, this.o.line);
      this.#line = requestLine(this.kernel, chip.file, offset, CONSUMER, settingsOf(this.o));
      this.#where = { interface: 'cdev', chip: chip.path, chipLabel: chip.info.label, line: offset, lineName: name };
    } finally {
      // The request holds the chip on its own; the chip fd is only needed to make it.
      chip.file.close();
    }
    if (this.o.direction === 'in' && this.o.edge !== 'none') this.#watchEdges(this.#line);
  }

  async close(): Promise<void> {
    this.#watch?.stop();
    this.#watch = undefined;
    const line = this.#line;
    this.#line = undefined;
    line?.close();
  }

  rawFile(): DeviceFile | undefined {
    return this.#line?.file;
  }

  async read(): Promise<0 | 1> {
    return this.#held().getValue();
  }

  async write(value: 0 | 1): Promise<void> {
    this.#held().setValue(value);
  }

  #held(): LineRequest {
    // Not open (or released): what the kernel says for a closed line fd.
    if (!this.#line) throw KernelError.of('EBADF', { syscall: 'ioctl', path: this.chipPath ?? String(this.o.chip) });
    return this.#line;
  }

  #watchEdges(line: LineRequest): void {
    this.#watch = line.file.watch({ readable: true }, (ready) => {
      // One failing callback must not take the agent down: everything here is caught.
      try {
        if (ready.disconnect) throw KernelError.of('ENODEV', { syscall: 'poll', path: line.file.path });
        const events = line.readEvents();
        if (events.length) this.on.edges(events, line.getValue());
      } catch (e) {
        if (isDisconnect(e)) {
          this.#watch?.stop();
          this.on.lost(e as Error);
        } else {
          this.log.warn({ err: e }, 'reading GPIO edge events failed');
        }
      }
    });
  }
}
