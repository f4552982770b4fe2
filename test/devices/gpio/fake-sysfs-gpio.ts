/**
 * The kernel's part of /sys/class/gpio for a fake tree in a temp dir: a
 * number written to `export` makes gpioN appear with its attributes, one
 * written to `unexport` removes it. It watches by polling the two files, as
 * a test has no kernel to call it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface FakeGpioKernel {
  readonly exported: number[];
  readonly unexported: number[];
  stop(): void;
}

export function fakeSysfsGpio(sysfsRoot: string): FakeGpioKernel {
  const dir = path.join(sysfsRoot, 'class', 'gpio');
  const exported: number[] = [];
  const unexported: number[] = [];
  const take = (file: string): number | undefined => {
    const text = readFileSync(path.join(dir, file), 'utf8').trim();
    if (!/^\d+$/.test(text)) return undefined;
    writeFileSync(path.join(dir, file), '');
    return Number(text);
  };
  const timer = setInterval(() => {
    const n = take('export');
    if (n !== undefined) {
      const line = path.join(dir, `gpio${n}`);
      mkdirSync(line);
      for (const [attr, value] of [
        ['direction', 'in'],
        ['value', '0'],
        ['edge', 'none'],
        ['active_low', '0'],
      ])
        writeFileSync(path.join(line, attr ?? ''), `${value}\n`);
      exported.push(n);
    }
    const u = take('unexport');
    if (u !== undefined) {
      rmSync(path.join(dir, `gpio${u}`), { recursive: true, force: true });
      unexported.push(u);
    }
  }, 2);
  return { exported, unexported, stop: () => clearInterval(timer) };
}
