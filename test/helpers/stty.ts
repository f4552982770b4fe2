/** `stty -F` on a tty: the line settings as a C program (and a user) sees them, read from outside the agent. */
import { spawnSync } from 'node:child_process';

export function stty(path: string, ...args: string[]): string {
  const r = spawnSync('stty', ['-F', path, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stty: ${r.stderr}`);
  return r.stdout;
}

/** stty -a's flags as a set (`-parenb`, `cs8`, …) and its speed. */
export function sttyView(path: string): { speed: number; flags: Set<string> } {
  const out = stty(path, '-a');
  const speed = Number(/speed (\d+) baud/.exec(out)?.[1]);
  const flags = new Set(out.split('\n').slice(4).join(' ').split(/\s+/).filter(Boolean));
  return { speed, flags };
}
