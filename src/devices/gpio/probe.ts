/**
 * What `dev2mqtt probe` finds of GPIO: every /dev/gpiochipN with its label and
 * lines, asked through the kernel seam with the kind's own uapi helpers (a
 * sim kernel answers in tests). Nothing is requested. Lines go in no starter
 * config: driving an unknown line can damage what is wired to it; the
 * listing shows the free ones to pick from.
 */
import { O } from '../../kernel/kernel.js';
import { defineProbe, type ProbeHost } from '../kind.js';
import { chipInfo, FLAG, lineInfo } from './uapi.js';

export interface LineFound {
  readonly offset: number;
  readonly name: string;
  readonly consumer: string;
  readonly used: boolean;
  readonly direction: 'in' | 'out';
}
export interface ChipFound {
  readonly path: string;
  readonly name: string;
  readonly label: string;
  readonly lines: readonly LineFound[];
}

const reason = (e: unknown): string => (e as { code?: string }).code ?? (e as Error).message;

async function scan(host: ProbeHost): Promise<ChipFound[]> {
  const names = (await host.dev.list('').catch(() => [])).filter((n) => /^gpiochip\d+$/.test(n));
  const kernel = names.length ? host.kernel() : undefined;
  const found: ChipFound[] = [];
  for (const name of names) {
    if (!kernel) break;
    const file = host.dev.path(name);
    let chip;
    try {
      chip = kernel.open(file, O.RDONLY | O.CLOEXEC);
    } catch (e) {
      host.problem(`${file}: ${reason(e)}${reason(e) === 'EACCES' ? ' (add this user to the gpio group)' : ''}`);
      continue;
    }
    try {
      const info = chipInfo(chip, kernel.arch);
      const lines: LineFound[] = [];
      for (let offset = 0; offset < info.lines; offset++) {
        const l = lineInfo(chip, kernel.arch, offset);
        lines.push({
          offset,
          name: l.name,
          consumer: l.consumer,
          used: (l.flags & FLAG.USED) !== 0,
          direction: l.flags & FLAG.OUTPUT ? 'out' : 'in',
        });
      }
      found.push({ path: file, name: info.name, label: info.label, lines });
    } catch (e) {
      host.problem(`${file}: ${(e as Error).message}`);
    } finally {
      chip.close();
    }
  }
  return found;
}

function chipLines(chip: ChipFound): string[] {
  const used = chip.lines.filter((l) => l.used);
  const free = chip.lines.filter((l) => !l.used);
  const label = (l: LineFound): string => (l.name ? `${l.offset}:${l.name}` : String(l.offset));
  const out = [`  ${chip.path}  ${chip.name} '${chip.label}'  ${chip.lines.length} lines, ${used.length} in use`];
  if (used.length) out.push(`      in use: ${used.map((l) => `${label(l)} (${l.consumer || 'unnamed'}, ${l.direction})`).join(', ')}`);
  if (free.length) out.push(`      free:   ${free.map(label).join(' ')}`);
  return out;
}

export const gpioProbe = defineProbe<ChipFound>({
  key: 'gpiochips',
  heading: (host) => `GPIO chips (${host.dev.path('gpiochip*')})`,
  scan,
  describe: (found) => found.flatMap(chipLines),
});
