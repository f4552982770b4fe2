/**
 * The packaged build, as a user gets it: `npm pack` (with its prepack/prepare
 * scripts, in a copy of this tree so the build does not rewrite the dist/ other
 * tests run), the tarball's contents, an install into an empty directory from
 * npm's cache only (never the network), `npx dev2mqtt --help` there, and
 * deploy/install.sh installing that tarball into a test root — twice, the
 * second time changing nothing.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { must, packTarball, REPO, run as runIn } from '../helpers/pack.js';
import { inCI, requireTools } from '../helpers/tools.js';
import { deadline } from '../helpers/deadline.js';

const OFFLINE = {
  ...process.env,
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

const run = (cmd: string, args: string[], cwd: string): ReturnType<typeof runIn> => runIn(cmd, args, cwd, OFFLINE);

let tarball = '';
let listing: string[] = [];

beforeAll(() => {
  const out = tempDir('dev2mqtt-pack-out-');
  tarball = packTarball(out, {
    keepCopy: (copy) => expect(existsSync(path.join(copy, 'npm-shrinkwrap.json')), 'postpack removes the shrinkwrap copy').toBe(false),
  });
  listing = must(run('tar', ['-tzf', tarball], out), 'tar -t')
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}, deadline(300_000));

describe('npm pack', () => {
  it('holds dist/, config/, deploy/, examples/, docs/ and the shrinkwrap, and no tests, sources or maps', () => {
    for (const f of [
      'package.json',
      'README.md',
      'npm-shrinkwrap.json',
      'dist/launch.cjs',
      'dist/cli.js',
      'dist/index.js',
      'dist/index.d.ts',
      'deploy/install.sh',
      'deploy/npm-app.cjs',
      'deploy/systemd/dev2mqtt.service',
      'deploy/udev/99-dev2mqtt.rules',
      'examples/node-red/flow.json',
      // The Node-RED subflow module, installable from the unpacked package; its test harness stays out.
      'examples/node-red/node-red-contrib-dev2mqtt/package.json',
      'examples/node-red/node-red-contrib-dev2mqtt/dev2mqtt-command.js',
      'docs/deploy.md',
    ]) {
      expect(listing, f).toContain(f);
    }
    expect(listing.some((f) => f.startsWith('deploy/ansible/'))).toBe(true);
    expect(listing.some((f) => f.startsWith('deploy/mosquitto/'))).toBe(true);
    expect(listing.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.map') || /\.test\.[jt]s$/.test(f))).toEqual(
      [],
    );
    // The shrinkwrap is the lockfile: a fleet installs exactly the tested dependency versions.
    const shrinkwrap = must(run('tar', ['-xzOf', tarball, 'package/npm-shrinkwrap.json'], REPO), 'tar -xO');
    expect(shrinkwrap).toBe(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8'));
  });

  it('installs into an empty directory from the npm cache, and npx dev2mqtt --help works there', () => {
    const app = tempDir('dev2mqtt-app-');
    // As install.sh does: a lockfile from the tarball's shrinkwrap, then npm ci, which asks the cache only
    // for what the project's own npm ci put there; --offline keeps npm off the network.
    must(run(process.execPath, [path.join(REPO, 'deploy/npm-app.cjs'), tarball, app], REPO), 'deploy/npm-app.cjs');
    const ci = run('npm', ['ci', '--offline', '--omit=dev', '--loglevel=error'], app);
    if (ci.status !== 0) {
      // A cache filled some other way (npm install rather than npm ci) may hold other registry documents.
      console.warn(`npm ci --offline failed, trying npm install --offline --no-package-lock:\n${ci.stderr}`);
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'pack-test', version: '1.0.0', private: true }));
      must(
        run('npm', ['install', '--offline', '--omit=dev', '--no-package-lock', '--loglevel=error', tarball], app),
        'npm install of the tarball',
      );
    }
    const help = run('npx', ['--no', '--', 'dev2mqtt', '--help'], app);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^dev2mqtt \d+\.\d+\.\d+/);
    for (const c of ['run', 'check-config', 'probe', 'exec', 'ioctl', 'systemd']) expect(help.stdout).toContain(`  ${c}`);
    // koffi's native part loads from the installed tree: a regular file is no GPIO chip (ENOTTY through libc).
    const dev = tempDir('dev2mqtt-dev-');
    writeFileSync(path.join(dev, 'gpiochip0'), '');
    const probe = run('npx', ['--no', '--', 'dev2mqtt', 'probe', '--dev-root', dev, '--sys-root', dev], app);
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout).toMatch(/gpiochip0 failed: ENOTTY/);
  }, 600_000);
});

const root = process.getuid?.() === 0;
if (!root && inCI) throw new Error('CI=true: the install.sh test needs root (it creates users in a test root)');
const haveTools =
  root && requireTools('the install.sh suite (it enables the unit and creates the service user in a test root)', 'systemctl', 'useradd');

// Each install runs npm ci (from the cache) and the agent a few times: minutes on a loaded two-core machine.
describe.skipIf(!haveTools)('deploy/install.sh', () => {
  it('installs the tarball, user, config, udev rules, unit and drop-in into a root, and a second run changes nothing', () => {
    const target = tempDir('dev2mqtt-root-');
    mkdirSync(path.join(target, 'etc'), { recursive: true });
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) cpSync(`/etc/${f}`, path.join(target, 'etc', f));
    const config = path.join(tempDir(), 'config.json');
    writeFileSync(
      config,
      JSON.stringify({ node: { id: 'pi-1' }, mqtt: { url: 'mqtt://broker.lan:1883' }, devices: [{ id: 'led0', kind: 'led', sim: true }] }),
    );
    const install = (...extra: string[]) =>
      run('bash', [path.join(REPO, 'deploy/install.sh'), '--root', target, '--tarball', tarball, '--config', config, ...extra], REPO);

    const first = install();
    expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(first.stdout).toMatch(/done: .*dev2mqtt \d+\.\d+\.\d+.*config.*udev rules.*unit.*device drop-in.*enabled/);
    expect(readlinkSync(path.join(target, 'usr/local/bin/dev2mqtt'))).toBe('../lib/dev2mqtt/node_modules/.bin/dev2mqtt');
    const at = (p: string): string => path.join(target, p);
    expect(must(run(at('usr/local/bin/dev2mqtt'), ['--version'], REPO), 'installed dev2mqtt')).toMatch(/^\d+\.\d+\.\d+/);
    expect(readFileSync(at('etc/systemd/system/dev2mqtt.service'), 'utf8')).toBe(
      readFileSync(path.join(REPO, 'deploy/systemd/dev2mqtt.service'), 'utf8'),
    );
    expect(readFileSync(at('etc/udev/rules.d/99-dev2mqtt.rules'), 'utf8')).toBe(
      readFileSync(path.join(REPO, 'deploy/udev/99-dev2mqtt.rules'), 'utf8'),
    );
    expect(readFileSync(at('etc/systemd/system/dev2mqtt.service.d/10-devices.conf'), 'utf8')).toMatch(/\[Service\]\nDeviceAllow=\n$/);
    // Absolute inside the root: /etc/systemd/system/dev2mqtt.service.
    expect(readlinkSync(at('etc/systemd/system/multi-user.target.wants/dev2mqtt.service'))).toBe('/etc/systemd/system/dev2mqtt.service');
    const group = readFileSync(at('etc/group'), 'utf8');
    for (const g of ['gpio', 'dialout', 'tape']) expect(group).toMatch(new RegExp(`^${g}:[^:]*:\\d+:(.*,)?dev2mqtt(,|$)`, 'm'));
    expect(readFileSync(at('etc/passwd'), 'utf8')).toMatch(
      /^dev2mqtt:x:\d+:\d+:dev2mqtt agent:\/var\/lib\/dev2mqtt:\/usr\/sbin\/nologin$/m,
    );
    const confStat = statSync(at('etc/dev2mqtt/config.json'));
    expect(confStat.mode & 0o777).toBe(0o640);

    const mtimes = [
      'usr/local/lib/dev2mqtt/node_modules/dev2mqtt/package.json',
      'etc/dev2mqtt/config.json',
      'etc/systemd/system/dev2mqtt.service',
      'etc/systemd/system/dev2mqtt.service.d/10-devices.conf',
      'etc/udev/rules.d/99-dev2mqtt.rules',
    ].map((p) => statSync(at(p)).mtimeMs);
    const second = install();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/nothing to change/);
    expect(
      [
        'usr/local/lib/dev2mqtt/node_modules/dev2mqtt/package.json',
        'etc/dev2mqtt/config.json',
        'etc/systemd/system/dev2mqtt.service',
        'etc/systemd/system/dev2mqtt.service.d/10-devices.conf',
        'etc/udev/rules.d/99-dev2mqtt.rules',
      ].map((p) => statSync(at(p)).mtimeMs),
    ).toEqual(mtimes);

    const third = install('--node-id', 'pi-42', '--groups', 'leds,ground');
    expect(third.stdout).toMatch(/done: config keys$/m);
    expect(JSON.parse(readFileSync(at('etc/dev2mqtt/config.json'), 'utf8'))).toMatchObject({
      node: { id: 'pi-42', groups: ['leds', 'ground'] },
    });
    // The same file and keys again: the config is what they make already, so nothing changes.
    const confMtime = statSync(at('etc/dev2mqtt/config.json')).mtimeMs;
    const fourth = install('--node-id', 'pi-42', '--groups', 'leds,ground');
    expect(fourth.status, fourth.stderr).toBe(0);
    expect(fourth.stdout).toMatch(/nothing to change/);
    expect(statSync(at('etc/dev2mqtt/config.json')).mtimeMs).toBe(confMtime);
  }, 600_000);

  it('--uninstall removes the unit, drop-ins, udev rules, agent and link and says what it kept; --purge removes that too', () => {
    const target = tempDir('dev2mqtt-root-');
    mkdirSync(path.join(target, 'etc'), { recursive: true });
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) cpSync(`/etc/${f}`, path.join(target, 'etc', f));
    const script = path.join(REPO, 'deploy/install.sh');
    const at = (p: string): string => path.join(target, p);
    const config = path.join(tempDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ node: { id: 'pi-1' }, mqtt: { url: 'mqtt://broker.lan:1883' } }));
    must(run('bash', [script, '--root', target, '--tarball', tarball, '--config', config], REPO), 'install.sh');
    const installed = [
      'etc/systemd/system/dev2mqtt.service',
      'etc/systemd/system/dev2mqtt.service.d/10-devices.conf',
      'etc/systemd/system/multi-user.target.wants/dev2mqtt.service',
      'etc/udev/rules.d/99-dev2mqtt.rules',
      'usr/local/lib/dev2mqtt/node_modules/dev2mqtt/package.json',
      'usr/local/bin/dev2mqtt',
    ];
    // lstat: the wants link is absolute, /etc/systemd/system/… inside the root, dangling from here.
    for (const p of installed) expect(statOrUndefined(at(p)), p).toBeDefined();
    // What the service leaves in its RuntimeDirectory= (kept across stops: RuntimeDirectoryPreserve=yes).
    mkdirSync(at('run/dev2mqtt'), { recursive: true });
    writeFileSync(at('run/dev2mqtt/journal.jsonl'), '{}\n');

    const un = run('bash', [script, '--root', target, '--uninstall'], REPO);
    expect(un.status, un.stderr).toBe(0);
    expect(un.stdout).toMatch(
      /removed: .*dev2mqtt\.service.*\/run\/dev2mqtt.*99-dev2mqtt\.rules.*\/usr\/local\/bin\/dev2mqtt.*\/usr\/local\/lib\/dev2mqtt/,
    );
    expect(statOrUndefined(at('run/dev2mqtt')), 'the journal in /run/dev2mqtt').toBeUndefined();
    expect(un.stdout).toMatch(/kept: the config in .*\/etc\/dev2mqtt; the user dev2mqtt; the groups? dev2mqtt.* \(--purge removes them\)/);
    for (const p of [...installed, 'etc/systemd/system/dev2mqtt.service.d', 'usr/local/lib/dev2mqtt'])
      expect(statOrUndefined(at(p)), p).toBeUndefined();
    expect(existsSync(at('etc/dev2mqtt/config.json'))).toBe(true);
    expect(readFileSync(at('etc/passwd'), 'utf8')).toMatch(/^dev2mqtt:/m);

    const again = run('bash', [script, '--root', target, '--uninstall'], REPO);
    expect(again.stdout).toMatch(/nothing to remove/);
    const purge = run('bash', [script, '--root', target, '--purge'], REPO);
    expect(purge.status, purge.stderr).toBe(0);
    expect(purge.stdout).toMatch(/removed: .*\/etc\/dev2mqtt.*the user dev2mqtt/);
    expect(purge.stdout).not.toMatch(/kept:/);
    expect(existsSync(at('etc/dev2mqtt'))).toBe(false);
    expect(readFileSync(at('etc/passwd'), 'utf8')).not.toMatch(/^dev2mqtt:/m);
    expect(readFileSync(at('etc/group'), 'utf8')).not.toMatch(/^dev2mqtt:/m);
    // The groups that were there before stay, whatever dev2mqtt did with them.
    for (const g of ['dialout', 'tape']) expect(readFileSync(at('etc/group'), 'utf8')).toMatch(new RegExp(`^${g}:`, 'm'));
  }, 600_000);

  it('refuses a config check-config rejects, naming the command to see why', () => {
    const target = tempDir('dev2mqtt-root-');
    mkdirSync(path.join(target, 'etc'), { recursive: true });
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) cpSync(`/etc/${f}`, path.join(target, 'etc', f));
    const bad = path.join(tempDir(), 'bad.json');
    writeFileSync(bad, JSON.stringify({ mqtt: { url: 'http://nope' } }));
    const r = run('bash', [path.join(REPO, 'deploy/install.sh'), '--root', target, '--tarball', tarball, '--config', bad], REPO);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mqtt\.url/);
    expect(r.stderr).toMatch(/bad\.json is not valid for dev2mqtt \d+\.\d+\.\d+: nothing was changed; see: .*dev2mqtt check-config -c/);
    // Refused before anything changed: no user, no config, no agent (the staged one is gone too).
    expect(readFileSync(path.join(target, 'etc/passwd'), 'utf8')).not.toMatch(/^dev2mqtt:/m);
    for (const p of ['etc/dev2mqtt', 'usr/local/lib/dev2mqtt', 'usr/local/lib/dev2mqtt.new', 'usr/local/bin/dev2mqtt'])
      expect(existsSync(path.join(target, p)), p).toBe(false);
  }, 600_000);
});

/** lstat that says undefined for a missing path (a dangling link exists for lstat, not for existsSync). */
function statOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
