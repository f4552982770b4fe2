/**
 * What the emulated-ABI job (.ci/emulated-abi.mjs) hands the tests: which ABI,
 * how to run its programs, its Node, and the packed tarball installed for it.
 * These tests run natively and start the ABI's processes under qemu-user.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';
import { archByName, type Arch } from '../../src/kernel/arch.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through .ci/emulated-abi.mjs`);
  return v;
}

export interface EmulatedAbi {
  /** `armhf` or `arm64`, as the job names it. */
  readonly name: string;
  /** Our Arch for it (`armhf`, `aarch64`). */
  readonly arch: Arch;
  readonly emulator: readonly string[];
  readonly node: string;
  readonly cc: string;
  /** node_modules/dev2mqtt of `npm pack`'s tarball installed for this ABI. */
  readonly packageDir: string;
  /** What the guest's uname says the kernel is. */
  readonly kernelMachine: string;
}

export function emulatedAbi(): EmulatedAbi {
  const name = need('DEV2MQTT_ABI');
  return {
    name,
    arch: archByName(name),
    emulator: JSON.parse(need('DEV2MQTT_ABI_QEMU')) as string[],
    node: need('DEV2MQTT_ABI_NODE'),
    cc: need('DEV2MQTT_ABI_CC'),
    packageDir: need('DEV2MQTT_ABI_PACKAGE'),
    kernelMachine: need('DEV2MQTT_ABI_KERNEL_MACHINE'),
  };
}

function argv(abi: EmulatedAbi, args: readonly string[]): [string, string[]] {
  const [qemu, ...rest] = abi.emulator;
  return [qemu as string, [...rest, abi.node, ...args]];
}

/** The installed package's `dev2mqtt` binary, run by the ABI's Node, to completion. */
export function dev2mqttSync(abi: EmulatedAbi, args: readonly string[]): SpawnSyncReturns<string> {
  const [cmd, rest] = argv(abi, [path.join(abi.packageDir, 'dist/launch.cjs'), ...args]);
  return spawnSync(cmd, rest, { encoding: 'utf8', timeout: 300_000 });
}

export function spawnDev2mqtt(abi: EmulatedAbi, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams {
  const [cmd, rest] = argv(abi, [path.join(abi.packageDir, 'dist/launch.cjs'), ...args]);
  return spawn(cmd, rest, { env: { ...process.env, ...env } });
}
