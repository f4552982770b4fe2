/**
 * `dev2mqtt ioctl` from the packed tarball, in the ABI's own Node under
 * qemu-user: without `--arch` it must answer for the ABI of that Node (armhf:
 * MTIOCGET with a 28-byte struct mtget), though the guest's uname says the
 * kernel is aarch64, as on 32-bit Raspberry Pi OS on a Pi 4 or 5
 * (test/kernel/process-abi.test.ts checks that uname inside the same Node).
 */
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../src/kernel/requests.js';
import { dev2mqttSync, emulatedAbi } from './abi.js';

const abi = emulatedAbi();
const ours = catalogue(abi.arch);
const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

function ok(args: string[]): string {
  const r = dev2mqttSync(abi, args);
  expect(r.stderr, `dev2mqtt ${args.join(' ')}`).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe(`the ${abi.name} package's CLI, in ${abi.name} Node`, () => {
  it(`ioctl decode MTIOCGET: ${abi.arch.name}, ${ours.get('MTIOCGET').size} bytes`, () => {
    const out = ok(['ioctl', 'decode', 'MTIOCGET']);
    const mtiocget = ours.get('MTIOCGET');
    expect(out).toMatch(new RegExp(`^request\\s+${hex(mtiocget.value)} \\(${abi.arch.name}\\)$`, 'm'));
    expect(out).toMatch(new RegExp(`^size\\s+${mtiocget.size} bytes$`, 'm'));
    if (abi.arch.name === 'armhf') expect(mtiocget.size).toBe(28);
    else expect(mtiocget.size).toBe(48);
  });

  it(`ioctl list --json: every request as --arch ${abi.arch.name} computes it natively`, () => {
    const listed = JSON.parse(ok(['ioctl', 'list', '--json'])) as Array<{ name: string; value: string; size: number }>;
    expect(listed.map((r) => [r.name, r.value, r.size])).toEqual(ours.all().map((r) => [r.name, hex(r.value), r.size]));
    expect(listed.find((r) => r.name === 'MTIOCGET')).toMatchObject({ size: abi.arch.longSize === 4 ? 28 : 48 });
  });
});
