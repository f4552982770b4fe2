/**
 * A control group of its own for each booted machine. `systemd-nspawn
 * --keep-unit --register=no` runs the container in the cgroup nspawn was
 * started in (its own process in `supervisor/`, the container's systemd in
 * `payload/` below it): machines started from one test process would share
 * one tree, each container's systemd creating, killing and removing the
 * others' units' cgroups (seen as "Failed to attach to cgroup … No such file
 * or directory" at boot). So nspawn starts in a child cgroup named after its
 * machine, in every hierarchy systemd uses: the unified one (cgroup2) and, on
 * a hybrid host, the named v1 "systemd" one. The tree also says what belongs
 * to a machine when it must be killed, or swept up after a test process that
 * died without stopping its machines.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';

/** The directories of this process's cgroup in the hierarchies systemd manages. */
function ownCgroupDirs(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const f = pre!.split(' ');
      const [fstype, , superOptions] = post!.split(' ');
      return { root: f[3]!, point: f[4]!, fstype: fstype!, superOptions: superOptions ?? '' };
    });
  const dirs: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean)) {
    const [, , controllers, cgPath] = /^(\d+):([^:]*):(.*)$/.exec(line) ?? [];
    if (cgPath === undefined) continue;
    const mount =
      controllers === ''
        ? mounts.find((m) => m.fstype === 'cgroup2')
        : controllers === 'name=systemd'
          ? mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.split(',').includes('name=systemd'))
          : undefined;
    if (!mount) continue;
    const rel = mount.root === '/' ? cgPath : cgPath.startsWith(mount.root) ? cgPath.slice(mount.root.length) : undefined;
    if (rel !== undefined) dirs.push(path.join(mount.point, rel));
  }
  return dirs;
}

/** Every process in a cgroup and the cgroups below it. */
function members(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string): void => {
    pids.push(...procs(d));
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      // removed meanwhile
    }
  };
  walk(dir);
  return pids;
}

function procs(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export class MachineCgroup {
  private constructor(readonly dirs: readonly string[]) {}

  /** Creates the machine's cgroups (named `name`) below this process's own. */
  static make(name: string): MachineCgroup {
    const dirs = ownCgroupDirs().map((d) => path.join(d, name));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    return new MachineCgroup(dirs);
  }

  /** `cmd`, started inside the machine's cgroups (a shell moves itself there, then execs it). */
  wrap(cmd: readonly string[]): string[] {
    const script = 'for d in $DEV2MQTT_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 125; done; exec "$@"';
    return ['env', `DEV2MQTT_CGROUPS=${this.dirs.join(' ')}`, 'sh', '-c', script, 'sh', ...cmd];
  }

  /** SIGKILLs everything in the machine's cgroups: nspawn, the container's systemd and all it started. */
  kill(): void {
    for (const d of this.dirs)
      for (const pid of members(d)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
  }

  /** Removes the (empty) cgroups, deepest first; killing what is left first, and waiting until it is gone. */
  async remove(): Promise<void> {
    for (let i = 0; i < 200 && this.dirs.some((d) => members(d).length); i++) {
      this.kill();
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const d of this.dirs) removeTree(d);
  }

  /** The names of the machine cgroups named `prefix…` below this process's own. */
  static names(prefix: string): Set<string> {
    return new Set(
      ownCgroupDirs()
        .filter((own) => existsSync(own))
        .flatMap((own) => readdirSync(own, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && e.name.startsWith(prefix))
        .map((e) => e.name),
    );
  }

  /**
   * Machines a test process left behind when it died (SIGKILL, a stop of the whole run): their cgroups below
   * this process's own, named `prefix…`, whose nspawn is gone. Kills what runs in them and removes them;
   * returns their names.
   */
  static async sweep(prefix: string): Promise<string[]> {
    const orphans = new Map<string, string[]>();
    for (const own of ownCgroupDirs()) {
      if (!existsSync(own)) continue;
      for (const e of readdirSync(own, { withFileTypes: true })) {
        if (!e.isDirectory() || !e.name.startsWith(prefix)) continue;
        const dir = path.join(own, e.name);
        // nspawn (and the shell that starts it) runs in the machine's cgroup itself or in supervisor/; the
        // container in payload/. An orphan's nspawn is gone: those are empty.
        if (procs(dir).length || members(path.join(dir, 'supervisor')).length) continue;
        orphans.set(e.name, [...(orphans.get(e.name) ?? []), dir]);
      }
    }
    await new MachineCgroup([...orphans.values()].flat()).remove();
    return [...orphans.keys()];
  }
}

function removeTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(path.join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // gone already, or still busy: the next sweep takes it
  }
}
