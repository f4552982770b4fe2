/**
 * A booted Debian machine standing in for a Raspberry Pi: systemd-nspawn
 * boots the cached root (debian-root.ts) through an overlay, so every machine
 * starts from the same pristine root and its writes land in a throwaway
 * upper directory. systemd is PID 1 inside; `sh()` runs a command in all of
 * its namespaces and its root and working directory (nsenter -a -r -w: in a
 * chroot the mount namespace's own root is the host's, so the namespaces
 * alone land outside the machine), as root. The machine shares this host's
 * network: a broker a test starts on loopback is reachable, and its sshd listens on a
 * loopback port of its own (a machine without one runs no sshd).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MachineCgroup } from './cgroup.js';

export interface BootOptions {
  /** Machine and host name. */
  readonly name: string;
  /** sshd listens on 127.0.0.1 at this port (and only there). */
  readonly sshPort?: number;
  /** A public key that may log in as `pi`. */
  readonly authorizedKey?: string;
  /** This host's npm cache, seen (through an overlay: writes stay inside) as the machine's. */
  readonly npmCache?: string;
}

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const live = new Set<Machine>();
/** Machine directories (in the temp dir) and cgroups are named `dev2mqtt-machine-<name>-XXXXXX`. */
const PREFIX = 'dev2mqtt-machine-';

// Should the test process end without stopping its machines, take them down with it.
process.once('exit', () => {
  for (const m of live) m.kill();
});

/**
 * In a chroot (as in a CI rehearsal) "/" is a directory, not the root of a mount, and nspawn's first step,
 * making "/" a recursive slave mount, fails with EINVAL. Then nspawn runs in a mount namespace of its own,
 * chrooted into a bind mount of this root: a mount root. The bind mount must not propagate to the host
 * (the file system the chroot lives on may be a shared mount there), so it goes below /dev/shm, whose
 * mount is first made private in that namespace.
 */
function nspawnPrefix(name: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  if (mounts.some((l) => l.split(' ')[4] === '/')) return [];
  const dir = `/dev/shm/dev2mqtt-reroot-${name}`;
  const script = 'mount --make-rprivate /dev && mkdir -p "$0" && mount --rbind / "$0" && cd "$0" && exec chroot . "$@"';
  return ['unshare', '--mount', '--propagation', 'unchanged', '--', 'sh', '-c', script, dir];
}

function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export class Machine {
  #console = '';
  #stopped = false;
  #initPid = 0;

  private constructor(
    readonly name: string,
    /** Host directory with the overlay's upper, work and merged directories. */
    readonly dir: string,
    private readonly cgroup: MachineCgroup,
    private readonly proc: ChildProcess,
  ) {
    const keep = (d: Buffer): void => {
      this.#console += d.toString();
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  /** The machine's root as this host sees it. */
  get root(): string {
    return path.join(this.dir, 'merged');
  }

  get console(): string {
    return this.#console;
  }

  static async boot(lower: string, o: BootOptions): Promise<Machine> {
    const dir = mkdtempSync(path.join(tmpdir(), `${PREFIX}${o.name}-`));
    // At once: a sweep by another test process takes a machine directory without its cgroup for a leftover.
    const cgroup = MachineCgroup.make(path.basename(dir));
    const merged = path.join(dir, 'merged');
    for (const d of ['upper', 'work', 'merged']) mkdirSync(path.join(dir, d));
    const mount = spawnSync(
      'mount',
      ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, merged],
      { encoding: 'utf8' },
    );
    if (mount.status !== 0) {
      await cgroup.remove();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mounting the overlay for ${o.name} failed: ${mount.stderr}`);
    }
    // From here on, whatever fails, the machine's processes, cgroups, overlay and files go with it.
    let m: Machine | undefined;
    try {
      prepare(merged, o);
      const args = [
        'systemd-nspawn',
        '--register=no',
        '--keep-unit',
        '--quiet',
        '--console=pipe',
        '--link-journal=no',
        '--resolv-conf=off',
        '--timezone=off',
        `--machine=${o.name}`,
        '-D',
        merged,
        ...(o.npmCache ? [`--overlay=${o.npmCache}::/var/cache/dev2mqtt-npm`] : []),
        '-b',
      ];
      const cmd = cgroup.wrap([...nspawnPrefix(o.name), ...args]);
      m = new Machine(o.name, dir, cgroup, spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
      live.add(m);
      await m.#waitBooted();
      return m;
    } catch (e) {
      if (m) await m.stop();
      else {
        await cgroup.remove();
        unmountAndRemove(dir);
      }
      throw e;
    }
  }

  /**
   * Machines an earlier test process left running when it died without stopping them (SIGKILL, a stopped
   * run): kills them and removes their cgroups, overlays and files. Returns their directories' names.
   */
  static async sweep(): Promise<string[]> {
    const swept = await MachineCgroup.sweep(PREFIX);
    const running = MachineCgroup.names(PREFIX);
    const stale = readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX) && !running.has(n));
    for (const n of stale) unmountAndRemove(path.join(tmpdir(), n));
    return [...new Set([...swept, ...stale])];
  }

  /** Runs a bash script inside the machine as root, with a clean environment. */
  sh(script: string, o: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
    const env = Object.entries({ PATH, HOME: '/root', LANG: 'C.UTF-8', ...o.env }).map(([k, v]) => `${k}=${v}`);
    const p = spawn(
      'nsenter',
      ['-t', String(this.#initPid), '-a', '-r', '-w', '--', '/usr/bin/env', '-i', ...env, '/bin/bash', '-c', script],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(o.input ?? '');
    return new Promise((resolve) => p.on('close', (status) => resolve({ status, stdout, stderr })));
  }

  /** sh(), failing with its output unless it exits 0; returns stdout. */
  async must(script: string, o: { env?: Record<string, string>; input?: string } = {}): Promise<string> {
    const r = await this.sh(script, o);
    if (r.status !== 0) throw new Error(`${this.name}: \`${script}\` exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Writes a file inside the machine (as root, then `chown` and `chmod` when given). */
  async write(file: string, text: string, o: { owner?: string; mode?: string } = {}): Promise<void> {
    const f = JSON.stringify(file);
    // cat, not `install /dev/stdin`: stdin is a socket here, which cannot be opened by name.
    const own = o.owner ? ` && chown ${o.owner}: ${f}` : '';
    await this.must(`mkdir -p "$(dirname ${f})" && cat > ${f} && chmod ${o.mode ?? '0644'} ${f}${own}`, { input: text });
  }

  /** Halts the machine (as `machinectl poweroff` would), removes its overlay and the files of its run. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // nspawn passes SIGTERM on as a request to halt; the second one ends the container at once.
    this.proc.kill('SIGTERM');
    if (!(await waitExit(this.proc, 60_000))) {
      this.proc.kill('SIGTERM');
      if (!(await waitExit(this.proc, 10_000))) this.kill();
    }
    live.delete(this);
    await this.cgroup.remove();
    unmountAndRemove(this.dir);
    try {
      rmdirSync(`/dev/shm/dev2mqtt-reroot-${this.name}`);
    } catch {
      // not in a chroot: never made
    }
  }

  /** Kills the container's PID 1 (and so everything in it) and nspawn, at once: for a test process on its way out. */
  kill(): void {
    this.cgroup.kill();
    this.proc.kill('SIGKILL');
    spawnSync('umount', ['-l', this.root]);
  }

  async #waitBooted(): Promise<void> {
    for (let i = 0; i < 1200 && !this.#initPid; i++) {
      if (this.proc.exitCode !== null) break;
      this.#initPid = systemdChild(this.proc.pid!) ?? 0;
      if (!this.#initPid) await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.#initPid)
      throw new Error(`${this.name} did not boot (systemd-nspawn ${this.proc.exitCode ?? 'still running'}):\n${this.#console}`);
    let last: Run | undefined;
    for (let i = 0; i < 600; i++) {
      if (this.proc.exitCode !== null) break;
      last = await this.sh('systemctl is-system-running --wait');
      const state = last.stdout.trim();
      if (state === 'running') return;
      if (state === 'degraded') {
        const failed = await this.sh('systemctl --failed --no-legend --plain; journalctl -b -q -p warning --no-pager -o short-monotonic');
        throw new Error(`${this.name} booted degraded:\n${failed.stdout}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} did not finish booting: ${last?.stdout ?? ''}${last?.stderr ?? ''}\n${this.#console}`);
  }
}

/** Unmounts a machine's overlay (lazily when busy) and removes its directory. */
function unmountAndRemove(dir: string): void {
  const merged = path.join(dir, 'merged');
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${merged} `)) {
    if (spawnSync('umount', [merged]).status !== 0) spawnSync('umount', ['-l', merged]);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** What a machine gets before it boots: its host name, its sshd port and the key that may log in as pi. */
function prepare(merged: string, o: BootOptions): void {
  writeFileSync(path.join(merged, 'etc/hostname'), `${o.name}\n`);
  // Remounts the root as /etc/fstab says: nothing to do in a container, where nspawn mounted it, and it
  // sometimes fails there on a loaded machine, which leaves the boot "degraded" for no reason of ours.
  symlinkSync('/dev/null', path.join(merged, 'etc/systemd/system/systemd-remount-fs.service'));
  if (o.sshPort !== undefined)
    writeFileSync(path.join(merged, 'etc/ssh/sshd_config.d/dev2mqtt-port.conf'), `Port ${o.sshPort}\nListenAddress 127.0.0.1\n`);
  // Without a port of its own, no sshd: the host's network is shared, and port 22 is the host's (or another
  // machine's), where a second sshd fails and leaves the boot "degraded".
  else for (const unit of ['ssh.service', 'ssh.socket']) symlinkSync('/dev/null', path.join(merged, 'etc/systemd/system', unit));
  if (o.authorizedKey !== undefined) {
    const ssh = path.join(merged, 'home/pi/.ssh');
    mkdirSync(ssh, { recursive: true });
    writeFileSync(path.join(ssh, 'authorized_keys'), `${o.authorizedKey.trim()}\n`);
  }
}

/** The container's PID 1: nspawn's child once it runs systemd. */
function systemdChild(nspawnPid: number): number | undefined {
  let children: string[];
  try {
    children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
  for (const c of children) {
    try {
      if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') return Number(c);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}
