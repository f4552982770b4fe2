/**
 * The recorded machines of test/fixtures/trees (see its README): their
 * `/sys` and `/proc` as sim trees a test may change, their folders on disk
 * for code that reads real files (probe), and the mounts model filled with
 * what statfs answered there.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeCommand } from '../../src/cli/probe.js';
import { SimMounts, type SimFilesystem } from '../../src/kernel/statfs-sim.js';
import { loadTree } from '../../src/kernel/sysfs-recorded.js';
import type { SimSysfs } from '../../src/kernel/sysfs-sim.js';

export type Machine = 'pi4' | 'pi5' | 'x86';

/** The folder of a machine's tree on disk: `dir('pi4', 'sys')`. */
export function treeDir(machine: Machine, part: 'sys' | 'proc' | '' = ''): string {
  return fileURLToPath(new URL(`../fixtures/trees/${machine}/${part}`, import.meta.url));
}

export function sysTree(machine: Machine): Promise<SimSysfs> {
  return loadTree(treeDir(machine, 'sys'), '/sys');
}

export function procTree(machine: Machine): Promise<SimSysfs> {
  return loadTree(treeDir(machine, 'proc'), '/proc');
}

export function mountsOf(machine: Machine): SimMounts {
  const m = new SimMounts();
  const recorded = JSON.parse(readFileSync(`${treeDir(machine)}/statfs.json`, 'utf8')) as Record<string, SimFilesystem>;
  for (const [at, fs] of Object.entries(recorded)) m.mount(at, fs);
  return m;
}

/** `dev2mqtt probe` over a recorded machine (an empty /dev of its own): its output, JSON unless `json` is false. */
export async function probeTree(machine: Machine, json = true): Promise<string> {
  const dev = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-probe-dev-'));
  let out = '';
  const io = { out: (x: string) => void (out += x), err: () => undefined, isTTY: false };
  try {
    const code = await probeCommand(
      ['--sys-root', treeDir(machine, 'sys'), '--proc-root', treeDir(machine, 'proc'), '--dev-root', dev, ...(json ? ['--json'] : [])],
      io,
      {
        kernel: () => {
          throw new Error(`probe of the recorded ${machine}: no device node is opened here`);
        },
      },
    );
    if (code !== 0) throw new Error(`probe of the recorded ${machine} exited ${code}: ${out}`);
    return out;
  } finally {
    rmSync(dev, { recursive: true, force: true });
  }
}
