/** A fresh st model on a temporary image, for the model and kind tests. */
import path from 'node:path';
import { hostArch } from '../../../src/kernel/arch.js';
import { SimTapeKernel, type SimTapeOptions } from '../../../src/devices/tape/sim/kernel.js';
import { NO_TIMING, type SimTiming } from '../../../src/devices/tape/sim/timing.js';
import { TapeIo } from '../../../src/devices/tape/tape-io.js';
import { tempDir as madeTempDir } from '../../helpers/temp.js';

export function tempDir(prefix = 'dev2mqtt-tape-'): string {
  return madeTempDir(prefix);
}

export function simKernel(
  over: Partial<Omit<SimTapeOptions, 'timing'>> & { timing?: Partial<SimTiming>; dir?: string } = {},
): SimTapeKernel {
  const dir = over.dir ?? tempDir();
  return new SimTapeKernel({
    devicePath: '/dev/nst0',
    imageFile: path.join(dir, 'tape.journal'),
    faultsFile: path.join(dir, 'faults.json'),
    capacityBytes: 1 << 30,
    earlyWarningBytes: 1 << 20,
    minBlock: 1,
    maxBlock: 0x800000,
    density: 0x58,
    writeProtected: false,
    loaded: true,
    arch: hostArch(),
    ...over,
    timing: { ...NO_TIMING, ...over.timing },
  });
}

export function openSim(k: SimTapeKernel, p = '/dev/nst0'): TapeIo {
  return TapeIo.open(k, p);
}

/** The position and flags a test compares, in `mt status` terms. */
export function where(io: TapeIo): string {
  const s = io.status();
  const flags = (['bot', 'eof', 'eot', 'eod', 'writeProtected', 'online', 'doorOpen'] as const).filter((f) => s[f]);
  return `${s.fileNumber}/${s.blockNumber} ${flags.join(',')}`;
}
