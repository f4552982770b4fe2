/**
 * Running programs of this process's own ABI. Natively that is just spawning
 * them; under the emulated-ABI job (test/emulated/) this process is itself an
 * armhf or arm64 Node under qemu-user, and a program of its ABI — a child
 * Node, a C program built with the cross compiler — must go through the same
 * emulator: no foreign binary ever runs natively. The job says how in
 * DEV2MQTT_EMULATOR (a JSON argv prefix) and DEV2MQTT_EMULATED_CC.
 */
import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'node:child_process';

function emulatorPrefix(): readonly string[] {
  const raw = process.env.DEV2MQTT_EMULATOR;
  if (!raw) return [];
  const argv: unknown = JSON.parse(raw);
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new Error(`DEV2MQTT_EMULATOR must be a JSON array of strings, got ${raw}`);
  }
  return argv;
}

/** The emulator's argv prefix (`["qemu-arm-static", "-L", …]`), empty when this process runs natively. */
export const emulator: readonly string[] = emulatorPrefix();
export const emulated = emulator.length > 0;

/** The C compiler that builds programs for this process's ABI. */
export const nativeCC = process.env.DEV2MQTT_EMULATED_CC ?? 'gcc';

/** spawnSync of a program built for this process's ABI (this Node itself included). */
export function spawnNativeSync(file: string, args: readonly string[], opts: SpawnSyncOptionsWithStringEncoding): SpawnSyncReturns<string> {
  const [head, ...rest] = emulated ? [...emulator, file, ...args] : [file, ...args];
  return spawnSync(head as string, rest, opts);
}
