/**
 * External tools the tests use (gcc, mosquitto, …). Outside CI a suite whose
 * tool is missing skips, and the run ends with one line per skipped suite
 * saying why and what to install (test/skip-summary.ts prints them); under
 * CI=true it fails instead: a suite must never pass silently in CI because
 * its tool is missing.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** The environment variable naming the file where suites note their skips (set by test/skip-summary.ts). */
export const SKIP_LOG_ENV = 'DEV2MQTT_SKIP_LOG';

/** The Debian package of each tool (the same packages .ci/run installs). */
const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  mosquitto: 'mosquitto',
  mosquitto_passwd: 'mosquitto',
  mosquitto_pub: 'mosquitto-clients',
  mosquitto_sub: 'mosquitto-clients',
  'nats-server': 'nats-server',
  strace: 'strace',
  gcc: 'gcc libc6-dev',
  'i686-linux-gnu-gcc': 'gcc-i686-linux-gnu libc6-dev-i386-cross',
  'arm-linux-gnueabihf-gcc': 'gcc-arm-linux-gnueabihf libc6-dev-armhf-cross',
  'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  'mips-linux-gnu-gcc': 'gcc-mips-linux-gnu libc6-dev-mips-cross',
  'powerpc64-linux-gnu-gcc': 'gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross',
  'sparc64-linux-gnu-gcc': 'gcc-sparc64-linux-gnu libc6-dev-sparc64-cross',
  stty: 'coreutils',
  stdbuf: 'coreutils',
  script: 'bsdutils',
  openssl: 'openssl',
  'systemd-analyze': 'systemd',
  systemctl: 'systemd',
  useradd: 'passwd',
  'ansible-playbook': 'ansible',
  shellcheck: 'shellcheck',
  python3: 'python3',
};

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Notes that `suite` is skipped and why, for the summary at the end of the run. */
export function noteSkip(suite: string, reason: string): void {
  const file = process.env[SKIP_LOG_ENV];
  const line = `skipped: ${suite} (${reason})`;
  if (file) appendFileSync(file, `${line}\n`);
  else console.warn(line);
}

/**
 * True when every tool `suite` needs is on PATH. When one is not: throws under
 * CI, and otherwise notes the skip (`mosquitto not installed: apt install
 * mosquitto`) and returns false, for the caller's `describe.skipIf`.
 */
export function requireTools(suite: string, ...cmds: string[]): boolean {
  const missing = cmds.filter((c) => !hasCommand(c));
  if (missing.length === 0) return true;
  const packages = [...new Set(missing.map((c) => DEBIAN_PACKAGE[c] ?? c))].join(' ');
  const reason = `${missing.join(', ')} not installed: apt install ${packages}`;
  if (inCI) throw new Error(`CI=true and ${suite} cannot run: ${reason}; .ci/run should have installed it`);
  noteSkip(suite, reason);
  return false;
}
