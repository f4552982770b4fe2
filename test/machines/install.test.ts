/**
 * deploy/install.sh for real, as a user runs it on a Pi: the packed tarball
 * copied to a booted Debian machine (systemd as PID 1), its deploy/ folder
 * unpacked there, the script run as root. Then the service as systemd runs
 * it: active and online on a mosquitto this test starts on the host, a
 * repeat that changes nothing, a bad config refused before anything changes,
 * an upgrade that changes only the agent and restarts once, restarts after
 * SIGKILL and after a hung event loop (the watchdog), the exposure
 * `systemd-analyze security` gives, what the service can write from inside
 * its sandbox, and no systemd warnings at start. Last, --uninstall and --purge.
 * The steps build on each other, in order, on one machine.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Machine } from '../helpers/machine.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { REPO } from '../helpers/pack.js';
import { afterMark, journalStarts, service, snapshot, unpackTarballs } from './steps.js';

const suite = inject('machines');
const NODE = 'pi-a';
const topic = (t: string): string => `dev2mqtt/${NODE}/${t}`;

describe.skipIf(suite.skip !== '')('deploy/install.sh on a booted Debian machine', () => {
  let broker: Mosquitto;
  let mqtt: TestClient;
  let pi: Machine;
  const install = (version: string, args: string) =>
    pi.sh(`cd /root && ${version}/package/deploy/install.sh --tarball /root/dev2mqtt-${version}.tgz ${args}`);
  const config = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      node: { id: NODE, groups: ['fleet'] },
      mqtt: { url: broker.url },
      devices: [{ id: 'led0', kind: 'led', sim: true }],
      ...extra,
    });
  const onlineAfter = (mark: number, what: string): Promise<Received> =>
    mqtt.next(
      afterMark(mqtt, mark, (m) => m.topic === topic('status') && m.payload === 'online'),
      120_000,
      what,
    );

  beforeAll(async () => {
    broker = await Mosquitto.start();
    mqtt = await TestClient.connect(broker.url);
    await mqtt.subscribe(`dev2mqtt/${NODE}/#`);
    pi = await Machine.boot(suite.root, { name: `dev2mqtt-${NODE}`, npmCache: suite.npmCache });
    await unpackTarballs(pi, [suite.tarball, suite.nextTarball]);
    await pi.write('/root/config.json', config());
  });

  afterAll(async () => {
    await mqtt?.end();
    await pi?.stop();
    await broker?.stop();
    if (broker) rmSync(broker.dir, { recursive: true, force: true });
  });

  it('installs the tarball: the service is active with its status line, online, answers a command, and systemd warned of nothing', async () => {
    const r = await install(suite.version, '--config /root/config.json');
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`done: .*user dev2mqtt, dev2mqtt ${suite.version}, config, udev rules, unit, device drop-in, enabled$`, 'm'),
    );
    const s = await service(pi);
    expect(s).toMatchObject({ ActiveState: 'active', SubState: 'running' });
    expect(s.StatusText).toBe(`node ${NODE}: 1 devices, broker ${broker.url}`);
    await onlineAfter(0, `${NODE} online`);
    const state = await mqtt.next((m) => m.topic === topic('state'), 60_000, 'node state');
    // The journal in /run/dev2mqtt (RuntimeDirectory=) is writable beside the read-only rest of /run.
    expect(JSON.parse(state.payload)).toMatchObject({ node: NODE, version: suite.version, journal: 'ok' });
    expect(await mqtt.command(topic('led0/cmd/set'), { state: 'ON' }, 'first')).toMatchObject({ ok: true });

    // Everything systemd said about the unit at warning level or above (the ConfigurationDirectory
    // mode it warned of at every start), and everything the agent logged at warn or above.
    expect(await pi.must('journalctl -q -b -u dev2mqtt.service -p warning -o cat --no-pager')).toBe('');
    const agentLog = (await pi.must('journalctl -q -b -u dev2mqtt.service -o cat --no-pager _COMM=node'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(agentLog.length).toBeGreaterThan(0);
    expect(agentLog.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('rates at most 2.0 in systemd-analyze security', async () => {
    const out = await pi.must('systemd-analyze security --no-pager dev2mqtt.service');
    const level = /Overall exposure level for dev2mqtt\.service: (\d+\.\d+) (\w+)/.exec(out);
    expect(level, out).not.toBeNull();
    console.log(`systemd-analyze security on ${pi.name}: dev2mqtt.service exposure ${level![1]} ${level![2]}`);
    expect(Number(level![1])).toBeLessThanOrEqual(2.0);
  });

  it('cannot write outside its state and runtime directories, tried from inside its sandbox', async () => {
    const { MainPID } = await service(pi);
    // The service's own mount namespace, as its user with its groups and no capabilities.
    const asService = (cmd: string) =>
      pi.sh(
        `nsenter -t ${MainPID} -m -r -w -- setpriv --reuid=dev2mqtt --regid=dev2mqtt --init-groups --inh-caps=-all --bounding-set=-all -- ${cmd}`,
      );
    const own = (p: string): boolean => /^\/(var\/lib|run)\/dev2mqtt(\/|$)/.test(p);
    // Every directory and file it may write (access(2) knows read-only mounts), /proc and /sys aside.
    const found = await asService(String.raw`find / \( -path /proc -o -path /sys \) -prune -o \( -type d -o -type f \) -writable -print`);
    const writable = found.stdout.split('\n').filter(Boolean);
    expect(writable).toContain('/var/lib/dev2mqtt');
    expect(writable).toContain('/run/dev2mqtt');
    expect(writable.filter((p) => !own(p))).toEqual([]);
    // And by trying: what a stray write would reach.
    for (const dir of [
      '/etc',
      '/etc/dev2mqtt',
      '/usr/local/lib/dev2mqtt',
      '/var/lib',
      '/var/log',
      '/run',
      '/run/lock',
      '/tmp',
      '/var/tmp',
      '/dev/shm',
      '/root',
      '/home/pi',
    ]) {
      const t = await asService(`touch ${dir}/.dev2mqtt-probe`);
      expect(t.status, `${dir} is writable`).not.toBe(0);
      expect(t.stderr, dir).toMatch(/Read-only file system|Permission denied|No such file or directory/);
    }
    const mine = await asService('touch /var/lib/dev2mqtt/.dev2mqtt-probe');
    expect(mine.status, mine.stderr).toBe(0);
    await pi.must('rm /var/lib/dev2mqtt/.dev2mqtt-probe');
  });

  it('changes nothing when run again', async () => {
    const before = await snapshot(pi);
    const s = await service(pi);
    const starts = await journalStarts(pi);
    const r = await install(suite.version, '--config /root/config.json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nothing to change/);
    expect(await snapshot(pi)).toEqual(before);
    expect((await service(pi)).MainPID).toBe(s.MainPID);
    expect(await journalStarts(pi)).toBe(starts);
  });

  it('refuses a bad --config before anything changes, also with a newer tarball', async () => {
    await pi.write('/root/bad.json', config({ devices: [{ id: 'relay', kind: 'gpio', options: { chip: 'gpiochip0' } }] }));
    const before = await snapshot(pi);
    const s = await service(pi);
    const r = await install(suite.nextVersion, '--config /root/bad.json');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/devices\[0\]/);
    expect(r.stderr).toMatch(new RegExp(`bad\\.json is not valid for dev2mqtt ${suite.nextVersion}: nothing was changed`));
    expect(await snapshot(pi)).toEqual(before);
    expect(await service(pi)).toMatchObject({ MainPID: s.MainPID, ActiveState: 'active' });
    expect((await pi.must('dev2mqtt --version')).trim()).toBe(suite.version);
  });

  it('upgrades to a newer tarball: only the agent changes, and the service restarts once', async () => {
    const mark = mqtt.messages.length;
    const before = await snapshot(pi);
    const s = await service(pi);
    const starts = await journalStarts(pi);
    const r = await install(suite.nextVersion, '--config /root/config.json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^dev2mqtt-install: done: dev2mqtt ${suite.nextVersion} \\(was ${suite.version}\\)$`, 'm'));
    const after = await snapshot(pi);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((p) => before.get(p) !== after.get(p));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.filter((p) => !p.startsWith('/usr/local/lib/dev2mqtt/'))).toEqual([]);
    expect((await pi.must('dev2mqtt --version')).trim()).toBe(suite.nextVersion);
    expect(await journalStarts(pi)).toBe(starts + 1);
    expect((await service(pi)).MainPID).not.toBe(s.MainPID);
    await onlineAfter(mark, `${NODE} online after the upgrade`);
    // The old agent may publish its state once more on its way out: wait for the new one's.
    const state = await mqtt.next(
      afterMark(
        mqtt,
        mark,
        (m) => m.topic === topic('state') && (JSON.parse(m.payload) as { version: string }).version === suite.nextVersion,
      ),
      60_000,
      'node state from the new version',
    );
    expect(JSON.parse(state.payload)).toMatchObject({ node: NODE });
  });

  it('is restarted after SIGKILL and comes back online', async () => {
    const { MainPID } = await service(pi);
    const mark = mqtt.messages.length;
    await pi.must(`kill -KILL ${MainPID}`);
    // The broker publishes the last will, then the restarted agent its online.
    await mqtt.next(
      afterMark(mqtt, mark, (m) => m.topic === topic('status') && m.payload === 'offline'),
      60_000,
      'the last will',
    );
    await onlineAfter(mark, `${NODE} online after SIGKILL`);
    const s = await service(pi);
    expect(s.ActiveState).toBe('active');
    expect(s.MainPID).not.toBe(MainPID);
    expect(await pi.must('journalctl -q -u dev2mqtt.service -o cat --no-pager')).toMatch(
      /Main process exited, code=killed, status=9\/KILL/,
    );
  });

  // An install with the plug-in, then WatchdogSec (30 s) and RestartSec (5 s) by design.
  it('is restarted by the watchdog when its event loop hangs', async () => {
    // A plug-in kind whose command never yields (test/fixtures/hang-kind.js), installed as a user would a plug-in:
    // importing dev2mqtt from where deploy/install.sh put it, and noting its run in the service's state directory.
    const plugin = readFileSync(path.join(REPO, 'test/fixtures/hang-kind.js'), 'utf8');
    const installed = plugin.replace("from 'dev2mqtt'", "from '/usr/local/lib/dev2mqtt/node_modules/dev2mqtt/dist/index.js'");
    expect(installed, 'the plug-in imports dev2mqtt').not.toBe(plugin);
    await pi.write('/usr/local/lib/dev2mqtt-test/hang-kind.js', installed);
    const withHang = JSON.parse(config()) as { devices: unknown[] };
    await pi.write(
      '/root/config-hang.json',
      JSON.stringify({
        ...withHang,
        plugins: ['/usr/local/lib/dev2mqtt-test/hang-kind.js'],
        devices: [...withHang.devices, { id: 'hang0', kind: 'hang', options: { marks: '/var/lib/dev2mqtt/hang-runs.txt' } }],
      }),
    );
    let mark = mqtt.messages.length;
    const r = await install(suite.nextVersion, '--config /root/config-hang.json');
    expect(r.status, r.stderr).toBe(0);
    // A plug-in kind's devices get a note in the drop-in.
    expect(r.stdout).toMatch(/done: config, device drop-in$/m);
    await onlineAfter(mark, `${NODE} online with the hang device`);

    const { MainPID } = await service(pi);
    mark = mqtt.messages.length;
    // QoS 0: this checks the watchdog and the restart. (A QoS 1 command that hangs the agent is never
    // acknowledged, so the broker sends it again to the restarted agent, which answers it canceled and does
    // not run it again: test/reliability/hung-command.test.ts.)
    await mqtt.publish(topic('hang0/cmd/spin'), '', { qos: 0 });
    await mqtt.next(
      afterMark(mqtt, mark, (m) => m.topic === topic('status') && m.payload === 'offline'),
      120_000,
      'offline after the hang',
    );
    await onlineAfter(mark, `${NODE} online after the watchdog`);
    expect((await service(pi)).MainPID).not.toBe(MainPID);
    expect(await pi.must('journalctl -q -u dev2mqtt.service -o cat --no-pager')).toMatch(/Watchdog timeout/);
  }, 420_000);

  it('--uninstall stops the service and leaves no unit, drop-in, rule, agent, link or journal; it keeps config, state, user and groups', async () => {
    const mark = mqtt.messages.length;
    const r = await pi.sh(`/root/${suite.nextVersion}/package/deploy/install.sh --uninstall`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'removed: the running service, /etc/systemd/system/dev2mqtt.service, /etc/systemd/system/dev2mqtt.service.d, ' +
        '/run/dev2mqtt, /etc/udev/rules.d/99-dev2mqtt.rules, /usr/local/bin/dev2mqtt, /usr/local/lib/dev2mqtt\n',
    );
    expect(r.stdout).toContain(
      'kept: the config in /etc/dev2mqtt; the state in /var/lib/dev2mqtt; the user dev2mqtt; the groups dev2mqtt gpio (--purge removes them)\n',
    );
    // A clean stop: the agent said goodbye itself.
    await mqtt.next(
      afterMark(mqtt, mark, (m) => m.topic === topic('status') && m.payload === 'offline'),
      60_000,
      'offline',
    );
    expect((await pi.sh('systemctl list-unit-files --no-legend "dev2mqtt*"')).stdout.trim()).toBe('');
    expect((await pi.sh('systemctl status dev2mqtt.service')).status).toBe(4);
    expect(await leftovers(pi)).toEqual(['/etc/dev2mqtt', '/var/lib/dev2mqtt']);
    expect((await pi.sh('id dev2mqtt')).status).toBe(0);
  });

  it('--purge removes the config, the state, the user and the groups it created, and nothing else', async () => {
    const r = await pi.sh(`/root/${suite.nextVersion}/package/deploy/install.sh --purge`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('removed: /etc/dev2mqtt, /var/lib/dev2mqtt, the user dev2mqtt, the group gpio\n');
    expect(r.stdout).not.toContain('kept:');
    expect(await leftovers(pi)).toEqual([]);
    for (const [db, name] of [
      ['passwd', 'dev2mqtt'],
      ['group', 'dev2mqtt'],
      ['group', 'gpio'],
    ])
      expect((await pi.sh(`getent ${db} ${name}`)).status, `${db} ${name}`).toBe(2);
    // Debian's own groups stay.
    for (const g of ['dialout', 'tape']) expect((await pi.sh(`getent group ${g}`)).status).toBe(0);
  });
});

/** Every path named *dev2mqtt* on the machine's disk and in /run, but for this test's and the test root's own files. */
async function leftovers(pi: Machine): Promise<string[]> {
  const own = [
    '/proc',
    '/sys',
    '/dev',
    '/root',
    '/var/cache/dev2mqtt-npm',
    '/usr/local/lib/dev2mqtt-test',
    '/.dev2mqtt-root',
    '/etc/ssh/sshd_config.d',
  ];
  const found = await pi.sh(
    String.raw`find / \( ${own.map((p) => `-path ${p}`).join(' -o ')} \) -prune -o -name '*dev2mqtt*' -print | sort`,
  );
  return found.stdout
    .split('\n')
    .filter(Boolean)
    .filter((p) => !/^\/(etc|var\/lib)\/dev2mqtt\/./.test(p));
}
