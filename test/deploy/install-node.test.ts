/**
 * deploy/install.sh on a system without Node: it asks apt which nodejs the
 * distribution offers before installing it, and stops with what to do
 * instead when that is older than 20 (Raspberry Pi OS bookworm offers 18),
 * having installed nothing. apt-get, apt-cache, id and dpkg are stand-ins on
 * a PATH without node; the script stops before the system changes in every
 * case here (at the latest at the missing npm of the stand-in install).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { REPO } from '../helpers/pack.js';

/**
 * Runs install.sh with nothing of Node on PATH and apt offering `offered` ('' for no candidate); `language`:
 * the user's LANGUAGE, which the apt-cache stand-in speaks unless LC_ALL=C (this machine has only the C
 * locales, so it stands in for a German one: apt then says `Kandidat:`).
 */
function installWithout(offered: string, language = ''): { status: number | null; stderr: string; stdout: string; apt: string } {
  const bin = tempDir('dev2mqtt-nonode-');
  const aptLog = path.join(bin, 'apt.log');
  for (const tool of ['dirname', 'mktemp', 'rm', 'awk', 'uname', 'cat']) {
    const real = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(real, path.join(bin, tool));
  }
  const stub = (name: string, body: string): void => {
    writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  stub('id', 'echo 0');
  stub('dpkg', 'echo arm64');
  stub('apt-get', `echo "apt-get $*" >> ${JSON.stringify(aptLog)}`);
  stub(
    'apt-cache',
    [
      'candidate=Candidate',
      'if [ "${LANGUAGE:-}" = de ] && [ "${LC_ALL:-}" != C ]; then candidate=Kandidat; fi',
      `printf 'nodejs:\\n  Installed: (none)\\n  %s: %s\\n' "$candidate" ${JSON.stringify(offered || '(none)')}`,
    ].join('\n'),
  );
  const r = spawnSync('/bin/bash', [path.join(REPO, 'deploy/install.sh'), '--tarball', path.join(bin, 'dev2mqtt-9.9.9.tgz')], {
    cwd: bin,
    env: { PATH: bin, ...(language ? { LANGUAGE: language } : {}) },
    encoding: 'utf8',
  });
  let apt = '';
  try {
    apt = readFileSync(aptLog, 'utf8');
  } catch {
    // apt-get never ran
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, apt };
}

describe('deploy/install.sh where Node is missing', () => {
  it("refuses the distribution's nodejs 18 (Raspberry Pi OS bookworm) before installing it, and says what to do", () => {
    const r = installWithout('18.19.0+dfsg-6~deb12u2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the distribution offers nodejs 18\.19\.0\+dfsg-6~deb12u2; dev2mqtt needs 20 or later/);
    expect(r.stderr).toMatch(/NodeSource.*nothing was changed/);
    expect(r.apt).toBe('apt-get update -qq\n');
  });

  it('refuses when the distribution offers no nodejs at all', () => {
    const r = installWithout('');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/offers nodejs \(none\)/);
    expect(r.apt).not.toMatch(/install/);
  });

  it("installs the distribution's nodejs 20 (Raspberry Pi OS trixie), an epoch in its version too", () => {
    const r = installWithout('1:20.19.2+dfsg-1');
    expect(r.stdout).toMatch(/installing nodejs 20\.19\.2\+dfsg-1 and npm from the distribution/);
    expect(r.apt).toMatch(/^apt-get install -y -qq nodejs npm$/m);
    // The stand-in installed nothing: the script stops at the missing npm.
    expect(r.stderr).toMatch(/npm is missing/);
  });

  it("reads apt's candidate whatever the user's language (a German system's apt says `Kandidat:`)", () => {
    const r = installWithout('20.19.2+dfsg-1~deb13u1', 'de');
    expect(r.stderr).not.toMatch(/needs 20 or later/);
    expect(r.stdout).toMatch(/installing nodejs 20\.19\.2\+dfsg-1~deb13u1 and npm from the distribution/);
  });
});
