/**
 * Global setup of the machine suite (vitest.machines.config.ts): decides
 * whether it can run here, builds (or finds) the cached Debian root, and packs
 * the tarball twice, the second time with the next patch version, for the
 * upgrade and rollout tests. Outside CI, a machine that cannot boot containers
 * (not root, no systemd-nspawn …) skips the suite and says why; under CI=true
 * that is a failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { debianRoot } from '../helpers/debian-root.js';
import { Machine } from '../helpers/machine.js';
import { nextPatch, packTarball, REPO, withVersion } from '../helpers/pack.js';
import { hasCommand, inCI } from '../helpers/tools.js';

declare module 'vitest' {
  export interface ProvidedContext {
    machines: MachineSuite;
  }
}

export interface MachineSuite {
  /** Why the suite does not run here, or '' when it does. */
  readonly skip: string;
  readonly root: string;
  readonly npmCache: string;
  readonly tarball: string;
  readonly version: string;
  readonly nextTarball: string;
  readonly nextVersion: string;
}

// command → what needs it
const TOOLS: Record<string, string> = {
  'systemd-nspawn': 'boots the machines',
  debootstrap: 'builds their root',
  nsenter: 'runs commands in them',
  flock: 'serialises building the root',
  'ansible-playbook': 'rolls the agent out over SSH',
  ssh: "Ansible's connection",
  'ssh-keygen': 'makes the test key',
  mosquitto: 'the broker the machines report to',
  mosquitto_sub: "the playbook's wait for each host's online",
};

function whyNot(): string {
  if (process.getuid?.() !== 0) return 'needs root (overlay mounts, systemd-nspawn)';
  for (const [cmd, why] of Object.entries(TOOLS)) if (!hasCommand(cmd)) return `'${cmd}' is missing (${why})`;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n')) return 'the kernel has no overlay file system';
  return '';
}

export default async function setup(project: TestProject): Promise<() => void> {
  const skip = whyNot();
  const none = { root: '', npmCache: '', tarball: '', version: '', nextTarball: '', nextVersion: '' };
  if (skip) {
    if (inCI) throw new Error(`CI=true and the machine suite cannot run: ${skip}`);
    console.warn(`skipping the machine suite: ${skip}`);
    project.provide('machines', { skip, ...none });
    return () => undefined;
  }
  const started = Date.now();
  const swept = await Machine.sweep();
  if (swept.length) console.warn(`machine suite: removed machines an earlier run left behind: ${swept.join(', ')}`);
  const root = debianRoot();
  const out = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-machines-'));
  const tarball = packTarball(out);
  const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const nextVersion = nextPatch(version);
  const nextTarball = withVersion(tarball, nextVersion);
  const npmCache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `machine suite: root ${root}, tarballs ${version} and ${nextVersion}, ready in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  project.provide('machines', { skip, root, npmCache, tarball, version, nextTarball, nextVersion });
  return () => rmSync(out, { recursive: true, force: true });
}
