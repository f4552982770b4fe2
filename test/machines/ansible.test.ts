/**
 * deploy/ansible/playbook.yml for real: three booted Debian machines play a
 * fleet of three Pis, each with sshd on a loopback port of its own and a key
 * this test makes, logged in to as `pi` with sudo, as Ansible does on Raspberry
 * Pi OS. The playbook rolls the packed tarball out one host at a time, waiting
 * for each host's retained `online` before the next; all three come online on a
 * mosquitto this test starts, each with its own node id and groups, and a group
 * command reaches them all. `--check` changes nothing. A newer release whose
 * config the second host refuses stops there: the first runs it, the third is
 * untouched. So does a host that never comes online.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Machine } from '../helpers/machine.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { REPO } from '../helpers/pack.js';
import { afterMark, service, snapshot } from './steps.js';

const suite = inject('machines');
const HOSTS = ['pi-1', 'pi-2', 'pi-3'] as const;
type Host = (typeof HOSTS)[number];
const GROUPS: Record<Host, string[]> = { 'pi-1': ['fleet', 'kitchen'], 'pi-2': ['fleet', 'lab'], 'pi-3': ['fleet', 'lab'] };

interface Play {
  readonly status: number | null;
  readonly output: string;
  /** Hosts in the order their task results appear, runs of one host collapsed: [pi-1, pi-2, pi-3] for a rollout one at a time. */
  readonly order: string[];
  readonly recap: Record<string, Record<string, number>>;
}

describe.skipIf(suite.skip !== '')('the Ansible playbook on three booted machines over SSH', () => {
  let broker: Mosquitto;
  let mqtt: TestClient;
  let work: string;
  const pis = new Map<Host, Machine>();
  const ports = new Map<Host, number>();
  const pi = (h: Host): Machine => pis.get(h)!;

  /** The inventory: every host its ssh port and groups; `hostVars` override per host. */
  function inventory(name: string, hostVars: Partial<Record<Host, Record<string, unknown>>> = {}): string {
    const file = path.join(work, `${name}.json`);
    const hosts = Object.fromEntries(HOSTS.map((h) => [h, { ansible_port: ports.get(h), dev2mqtt_groups: GROUPS[h], ...hostVars[h] }]));
    const inv = {
      all: {
        children: {
          dev2mqtt: {
            vars: {
              ansible_host: '127.0.0.1',
              ansible_user: 'pi',
              ansible_ssh_private_key_file: path.join(work, 'id_ed25519'),
              ansible_python_interpreter: '/usr/bin/python3',
              dev2mqtt_mqtt_url: broker.url,
              dev2mqtt_devices: [{ id: 'led0', kind: 'led', sim: true }],
              dev2mqtt_online_timeout_s: 60,
            },
            hosts,
          },
        },
      },
    };
    writeFileSync(file, JSON.stringify(inv, null, 2));
    return file;
  }

  const running = new Set<ChildProcess>();

  /** Runs the playbook; after `limitMs` it is stopped (its output so far still returned, for the failure message). */
  function playbook(inv: string, tarball: string, extra: string[] = [], limitMs = 600_000): Promise<Play> {
    const env = {
      ...process.env,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_HOME: path.join(work, 'ansible-home'),
      ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(work, 'cp'),
      // The machines' host keys are the test's own; master connections end with the machines.
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
    };
    const args = ['-i', inv, path.join(REPO, 'deploy/ansible/playbook.yml'), '-e', `dev2mqtt_tarball=${tarball}`, ...extra];
    // Its own process group: a stopped playbook takes its ssh children with it.
    const p = spawn('ansible-playbook', args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(p);
    let output = '';
    p.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const limit = setTimeout(() => {
      output += `\n[the test stopped the playbook after ${limitMs / 1000} s]\n`;
      stopGroup(p);
    }, limitMs);
    return new Promise((resolve) =>
      p.on('close', (status) => {
        clearTimeout(limit);
        running.delete(p);
        const hosts = [...output.matchAll(/^(?:ok|changed|failed|fatal|skipping): \[(pi-\d)[\]\s-]/gm)].map((m) => m[1]!);
        const order = hosts.filter((h, i) => h !== hosts[i - 1]);
        const recap = Object.fromEntries(
          [...output.matchAll(/^(pi-\d)\s+:\s+(.*)$/gm)].map((m) => [
            m[1]!,
            Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])])),
          ]),
        );
        resolve({ status, output, order, recap });
      }),
    );
  }

  const version = async (h: Host): Promise<string> => (await pi(h).must('dev2mqtt --version')).trim();

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-fleet-'));
    broker = await Mosquitto.start();
    mqtt = await TestClient.connect(broker.url);
    await mqtt.subscribe(['dev2mqtt/+/status', 'dev2mqtt/+/state', 'dev2mqtt/+/result']);
    const keygen = spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dev2mqtt-test', '-f', path.join(work, 'id_ed25519')]);
    await new Promise((r) => keygen.on('close', r));
    const key = readFileSync(path.join(work, 'id_ed25519.pub'), 'utf8');
    for (const h of HOSTS) ports.set(h, await freePort());
    const booted = await Promise.allSettled(
      HOSTS.map((h) =>
        Machine.boot(suite.root, { name: `dev2mqtt-${h}`, sshPort: ports.get(h)!, authorizedKey: key, npmCache: suite.npmCache }).then(
          (m) => pis.set(h, m),
        ),
      ),
    );
    const failed = booted.find((b) => b.status === 'rejected');
    if (failed) throw failed.reason;
  });

  afterAll(async () => {
    for (const p of running) stopGroup(p);
    await mqtt?.end();
    await Promise.all([...pis.values()].map((m) => m.stop()));
    await broker?.stop();
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('rolls out one host at a time, each online with its own node id before the next; a group command reaches all three', async () => {
    const play = await playbook(inventory('fleet'), suite.tarball, [], 900_000);
    expect(play.status, play.output).toBe(0);
    expect(play.order).toEqual(['pi-1', 'pi-2', 'pi-3']);
    for (const h of HOSTS) {
      expect(play.recap[h], play.output).toMatchObject({ failed: 0, unreachable: 0 });
      // The wait for the host's online ran, on the controller, as the last step of the host's turn.
      expect(play.output).toMatch(
        new RegExp(`TASK \\[Wait for the host's retained online[^\\n]*\\n(?:[^\\n]*\\n)*?ok: \\[${h} -> localhost\\]`),
      );
      expect(await version(h)).toBe(suite.version);
      expect((await service(pi(h))).ActiveState).toBe('active');
    }
    // The broker saw them come online in the order of the rollout.
    const online = mqtt.messages.filter((m) => m.topic.endsWith('/status') && m.payload === 'online').map((m) => m.topic.split('/')[1]);
    expect(online).toEqual([...HOSTS]);

    const mark = mqtt.messages.length;
    await mqtt.publish('dev2mqtt/group/fleet/cmd/describe', JSON.stringify({ id: 'fleet-1' }));
    for (const h of HOSTS) {
      const r = await mqtt.next(
        afterMark(mqtt, mark, (m) => m.topic === `dev2mqtt/${h}/result` && m.payload.includes('"fleet-1"')),
        30_000,
        `${h}'s answer to the group command`,
      );
      expect(JSON.parse(r.payload)).toMatchObject({ ok: true, result: { node: h, version: suite.version, groups: GROUPS[h] } });
    }
  }, 960_000);

  it('--check runs clean: nothing to change at the same version, and a newer one changes nothing yet', async () => {
    const pids = await Promise.all(HOSTS.map(async (h) => (await service(pi(h))).MainPID));
    const same = await playbook(inventory('fleet'), suite.tarball, ['--check']);
    expect(same.status, same.output).toBe(0);
    for (const h of HOSTS) expect(same.recap[h], same.output).toMatchObject({ changed: 0, failed: 0, unreachable: 0 });

    // What a newer release would change, on the first host: reported, not done.
    const newer = await playbook(inventory('fleet'), suite.nextTarball, ['--check', '--diff', '--limit', 'pi-1'], 300_000);
    expect(newer.status, newer.output).toBe(0);
    expect(newer.recap['pi-1'], newer.output).toMatchObject({ failed: 0, unreachable: 0 });
    expect(newer.recap['pi-1']!.changed, newer.output).toBeGreaterThan(0);
    expect(newer.output).toMatch(/changed: \[pi-1\] => \(item=[^)]*dev2mqtt-\d+\.\d+\.\d+\.tgz\)/);
    expect(await version('pi-1')).toBe(suite.version);
    expect(await Promise.all(HOSTS.map(async (h) => (await service(pi(h))).MainPID))).toEqual(pids);
  }, 960_000);

  it('stops at the host whose config the new release refuses: the first runs it, the refusing one and the third are untouched', async () => {
    const bad = inventory('bad-second', { 'pi-2': { dev2mqtt_devices: [{ id: 'relay', kind: 'gpio', options: { chip: 'gpiochip0' } }] } });
    const before = { 'pi-2': await snapshot(pi('pi-2')), 'pi-3': await snapshot(pi('pi-3')) };
    const pids = { 'pi-2': (await service(pi('pi-2'))).MainPID, 'pi-3': (await service(pi('pi-3'))).MainPID };
    const mark = mqtt.messages.length;
    const play = await playbook(bad, suite.nextTarball, [], 700_000);
    expect(play.status, play.output).not.toBe(0);
    expect(play.output).toMatch(/TASK \[Stop the rollout at this host\][^\n]*\nfatal: \[pi-2\]/);
    expect(play.order).toEqual(['pi-1', 'pi-2']);
    expect(play.recap['pi-3'], play.output).toBeUndefined();

    expect(await version('pi-1')).toBe(suite.nextVersion);
    const state = await mqtt.next(
      afterMark(mqtt, mark, (m) => m.topic === 'dev2mqtt/pi-1/state' && m.payload.includes(`"version":"${suite.nextVersion}"`)),
      60_000,
      'pi-1 on the new version',
    );
    expect(state).toBeDefined();
    for (const h of ['pi-2', 'pi-3'] as const) {
      expect(await version(h)).toBe(suite.version);
      expect(await snapshot(pi(h)), h).toEqual(before[h]);
      expect((await service(pi(h))).MainPID, h).toBe(pids[h]);
    }
    // Not even the new tarball reached the third host.
    expect((await pi('pi-3').sh(`test -e /var/cache/dev2mqtt/${path.basename(suite.nextTarball)}`)).status).not.toBe(0);
  }, 900_000);

  it('stops at a host that does not come online, before the next host changes', async () => {
    const dead = await freePort();
    const inv = inventory('dead-broker', { 'pi-1': { dev2mqtt_mqtt_url: `mqtt://127.0.0.1:${dead}`, dev2mqtt_online_timeout_s: 15 } });
    const pids = { 'pi-2': (await service(pi('pi-2'))).MainPID, 'pi-3': (await service(pi('pi-3'))).MainPID };
    const play = await playbook(inv, suite.nextTarball, ['-e', `dev2mqtt_watch_url=${broker.url}`], 400_000);
    expect(play.status, play.output).not.toBe(0);
    expect(play.output).toMatch(/TASK \[Wait for the host's retained online[^\n]*\n(?:[^\n]*\n)*?fatal: \[pi-1 -> localhost\]/);
    expect(play.order).toEqual(['pi-1']);
    // pi-1 did restart with the new config: the service runs, it just cannot reach its broker.
    expect((await service(pi('pi-1'))).ActiveState).toBe('active');
    for (const h of ['pi-2', 'pi-3'] as const) expect((await service(pi(h))).MainPID, h).toBe(pids[h]);
  }, 600_000);
});

function stopGroup(p: ChildProcess): void {
  try {
    process.kill(-p.pid!, 'SIGTERM');
  } catch {
    // ended meanwhile
  }
}
