/**
 * The Ansible playbook's Node.js check (deploy/ansible/tasks/node.yml), run on
 * this machine with stand-ins for node, apt-get and apt-cache on the tasks'
 * PATH, as install-node.test.ts does for install.sh: a host without Node whose
 * distribution offers nodejs 18 (Raspberry Pi OS bookworm) stops with
 * install.sh's words and gets nothing installed; a host with Node 20 or later
 * is left alone; a host with an older Node stops. The rollout itself, on booted
 * machines, is test/machines/ansible.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { deadline } from '../helpers/deadline.js';
import { REPO } from '../helpers/pack.js';
import { requireTools } from '../helpers/tools.js';

const haveAnsible = requireTools('the Ansible playbook suite', 'ansible-playbook');

/** What install.sh tells a user whose Node is missing or too old. */
const NODE_HOW = /^NODE_HOW="(.*)"$/m.exec(readFileSync(path.join(REPO, 'deploy/install.sh'), 'utf8'))![1]!;

interface Host {
  /** What `node -p process.versions.node` prints; undefined: no node. */
  readonly node?: string;
  /** apt's nodejs candidate; '' for none. */
  readonly offered?: string;
  /** The host's language (LANGUAGE): apt-cache then speaks it, as apt's own translations do, unless LC_ALL=C. */
  readonly language?: string;
}

/** Runs the playbook's Node tasks locally against the stand-ins; `apt` is what apt-get was asked to do. */
function play(host: Host, extra: string[] = []): { status: number | null; output: string; apt: string } {
  const stubs = tempDir('dev2mqtt-ansible-node-');
  const aptLog = path.join(stubs, 'apt.log');
  const stub = (name: string, body: string): void => {
    writeFileSync(path.join(stubs, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(stubs, name), 0o755);
  };
  if (host.node !== undefined) stub('node', `echo ${host.node}`);
  stub('apt-get', `echo "apt-get $*" >> ${JSON.stringify(aptLog)}`);
  // This machine has only the C locales, so the stand-in reads the language from LANGUAGE (gettext's
  // order; LC_ALL=C turns translations off) to speak as apt does on a German Raspberry Pi OS.
  stub(
    'apt-cache',
    [
      'candidate=Candidate; installed=Installed',
      'if [ "${LANGUAGE:-}" = de ] && [ "${LC_ALL:-}" != C ]; then candidate=Kandidat; installed=Installiert; fi',
      `printf 'nodejs:\\n  %s: (keine)\\n  %s: %s\\n' "$installed" "$candidate" ${JSON.stringify(host.offered || '(none)')}`,
    ].join('\n'),
  );
  const r = spawnSync(
    'ansible-playbook',
    [
      '-i',
      'localhost,',
      path.join(REPO, 'test/deploy/node-check.yml'),
      '-e',
      JSON.stringify({
        stubs,
        language: host.language ?? '',
        node_tasks: path.join(REPO, 'deploy/ansible/tasks/node.yml'),
        ansible_python_interpreter: '/usr/bin/python3',
      }),
      ...extra,
    ],
    {
      encoding: 'utf8',
      timeout: deadline(120_000),
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: path.join(stubs, 'local-tmp'),
        ANSIBLE_REMOTE_TEMP: path.join(stubs, 'remote-tmp'),
        ANSIBLE_HOME: path.join(stubs, 'home'),
        ANSIBLE_RETRY_FILES_ENABLED: 'False',
      },
    },
  );
  let apt = '';
  try {
    apt = readFileSync(aptLog, 'utf8');
  } catch {
    // apt-get never ran
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`, apt };
}

/** The outcome of a task in ansible-playbook's output: ok, changed, skipping, fatal, or undefined when it did not come up. */
function outcome(output: string, task: string): string | undefined {
  const at = output.indexOf(`TASK [${task}]`);
  if (at < 0) return undefined;
  return /^(ok|changed|skipping|fatal): \[localhost\]/m.exec(output.slice(at))?.[1];
}

describe.skipIf(!haveAnsible)("the Ansible playbook's Node.js check", () => {
  it("refuses the distribution's nodejs 18 (Debian 12, Raspberry Pi OS bookworm) before installing it, in install.sh's words", () => {
    const r = play({ offered: '18.19.0+dfsg-6~deb12u2' });
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain(
      `Node.js is missing and the distribution offers nodejs 18.19.0+dfsg-6~deb12u2; dev2mqtt needs 20 or later: ${NODE_HOW} (nothing was changed)`,
    );
    expect(r.apt).toBe('apt-get update -qq\n');
    expect(outcome(r.output, 'Install Node.js from the distribution (it offers 20 or later)'), r.output).toBeUndefined();
  });

  it('refuses when the distribution offers no nodejs at all', () => {
    const r = play({ offered: '' });
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain('the distribution offers nodejs (none); dev2mqtt needs 20 or later');
    expect(outcome(r.output, 'Install Node.js from the distribution (it offers 20 or later)'), r.output).toBeUndefined();
  });

  it('leaves a Node 20 or later alone and asks apt nothing', () => {
    const r = play({ node: '22.12.0' });
    expect(r.status, r.output).toBe(0);
    expect(r.apt).toBe('');
    expect(outcome(r.output, 'Ask which nodejs the distribution offers')).toBe('skipping');
    expect(outcome(r.output, 'Install Node.js from the distribution (it offers 20 or later)')).toBe('skipping');
    expect(outcome(r.output, 'Require Node.js 20 or later')).toBe('ok');
  });

  it('stops at an installed Node older than 20, saying how to get 20', () => {
    const r = play({ node: '18.19.0' });
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain(`Node.js v18.19.0 is too old; dev2mqtt needs 20 or later: ${NODE_HOW}`);
    expect(r.apt).toBe('');
  });

  it("goes on to install the distribution's nodejs 20 (Raspberry Pi OS trixie), an epoch in its version too (--check)", () => {
    // In check mode: the apt module then only looks at this machine's package cache and installs nothing.
    const r = play({ offered: '1:20.19.2+dfsg-1' }, ['--check']);
    expect(r.output).not.toMatch(/needs 20 or later/);
    expect(outcome(r.output, 'Refuse a distribution nodejs older than 20 before installing it')).toBe('skipping');
    expect(['ok', 'changed', 'fatal']).toContain(outcome(r.output, 'Install Node.js from the distribution (it offers 20 or later)'));
  });

  it("reads apt's nodejs candidate whatever the host's language (a German host's apt says `Kandidat:`)", () => {
    const r = play({ offered: '20.19.2+dfsg-1~deb13u1', language: 'de' }, ['--check']);
    expect(r.output).not.toMatch(/needs 20 or later/);
    expect(outcome(r.output, 'Refuse a distribution nodejs older than 20 before installing it'), r.output).toBe('skipping');
    expect(['ok', 'changed', 'fatal']).toContain(outcome(r.output, 'Install Node.js from the distribution (it offers 20 or later)'));
  });
});
