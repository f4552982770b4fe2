/** Progress events of a long command: a bar on a terminal, plain lines in logs and pipes. */
import type { CommandIo } from './io.js';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u ? 1 : 0)} ${units[u]}`;
}

export class ProgressView {
  #drawn = false;
  constructor(
    private readonly io: CommandIo,
    private readonly width = 30,
  ) {}

  update(data: Record<string, unknown>): void {
    const bytes = num(data.bytes) ?? 0;
    const total = num(data.total);
    const rate = num(data.rateBytesPerS);
    const frac = total ? Math.min(1, bytes / total) : undefined;
    const parts = [
      frac !== undefined ? `${(frac * 100).toFixed(0).padStart(3)}%` : '',
      `${human(bytes)}${total ? ` / ${human(total)}` : ''}`,
      rate !== undefined ? `${human(rate)}/s` : '',
    ]
      .filter(Boolean)
      .join('  ');
    if (this.io.isTTY) {
      const filled = frac === undefined ? 0 : Math.round(frac * this.width);
      this.io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${parts}\u001b[K`);
      this.#drawn = true;
    } else {
      this.io.err(`progress: ${parts}\n`);
    }
  }

  done(): void {
    if (this.#drawn) this.io.err('\n');
    this.#drawn = false;
  }
}
