/**
 * The Debian 12 root the machine tests boot (test/machines/build-root.sh
 * makes it): built once and cached outside the repository, under
 * $DEV2MQTT_DEPLOY_ROOT (default /var/tmp/dev2mqtt-deploy-root), in a folder
 * named after what went into it (the package list, this machine's Node and
 * npm, the recipe). Another Node or a changed recipe builds a new one and
 * drops the old; a half-built root never counts (it is renamed into place
 * when complete). Builds are serialised with flock(1).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RECIPE = fileURLToPath(new URL('../machines/build-root.sh', import.meta.url));

/** The Debian mirror apt uses on this machine (deb822 sources first, then sources.list). */
export function debianMirror(): string {
  const dir = '/etc/apt/sources.list.d';
  const sources = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.sources'))
        .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    : [];
  for (const text of sources) {
    const m = /^URIs:\s*(https?:\S*\/debian)\/?\s*$/m.exec(text);
    if (m) return m[1]!;
  }
  const list = existsSync('/etc/apt/sources.list') ? readFileSync('/etc/apt/sources.list', 'utf8') : '';
  const m = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\S*\/debian)\/?\s/m.exec(list);
  if (m) return m[1]!;
  throw new Error("no Debian mirror in apt's configuration (/etc/apt/sources.list.d/*.sources, /etc/apt/sources.list)");
}

function npmVersion(): string {
  const r = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  return r.stdout.trim();
}

/** Returns the root's directory, building it first when this machine has none for the current recipe. */
export function debianRoot(): string {
  const base = process.env.DEV2MQTT_DEPLOY_ROOT ?? '/var/tmp/dev2mqtt-deploy-root';
  const stamp = [
    'bookworm minbase +systemd,systemd-sysv,dbus,openssh-server,python3,sudo',
    `node ${process.version}`,
    `npm ${npmVersion()}`,
    `recipe ${createHash('sha256').update(readFileSync(RECIPE)).digest('hex').slice(0, 16)}`,
  ].join('; ');
  const dir = path.join(base, createHash('sha256').update(stamp).digest('hex').slice(0, 12));
  const ready = (): boolean => existsSync(path.join(dir, '.dev2mqtt-root'));
  if (ready()) return dir;
  mkdirSync(base, { recursive: true });
  // Under the lock: another process may have built it meanwhile.
  const script = `[ -e "$1/.dev2mqtt-root" ] || bash "$4" "$1" "$2" "$3"`;
  const r = spawnSync('flock', [path.join(base, '.lock'), 'bash', '-c', script, 'build', dir, debianMirror(), stamp, RECIPE], {
    encoding: 'utf8',
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  if (r.status !== 0 || !ready()) throw new Error(`building the Debian root in ${dir} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  process.stderr.write(r.stderr);
  // Roots of earlier recipes would only fill the disk; one a running container still stands on stays.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const old of readdirSync(base)) {
    const oldDir = path.join(base, old);
    if (old === path.basename(dir) || !/^[0-9a-f]{12}$/.test(old) || mounts.includes(oldDir)) continue;
    rmSync(oldDir, { recursive: true, force: true });
  }
  return dir;
}
