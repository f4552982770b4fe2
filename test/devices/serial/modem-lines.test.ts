/** The line watcher's decisions, against a scripted driver. */
import { describe, expect, it } from 'vitest';
import { hostArch } from '../../../src/kernel/arch.js';
import { encode, intArg } from '../../../src/kernel/codec.js';
import { KernelError } from '../../../src/kernel/errors.js';
import type { DeviceFile, IoctlArg } from '../../../src/kernel/kernel.js';
import type { IoctlRequest } from '../../../src/kernel/requests.js';
import { serial_icounter_struct } from '../../../src/kernel/structs.js';
import { ModemLines, whichChanged, type LinesChange } from '../../../src/devices/serial/modem-lines.js';

const arch = hostArch();

/** A driver whose TIOCMIWAIT answers from `waits` in turn, and whose counters are `counts`. */
function driver(waits: Array<() => Promise<void>>, counts: { cts: number; dcd: number }): DeviceFile {
  const file: Partial<DeviceFile> = {
    path: '/dev/ttyFAKE0',
    ioctl(req: IoctlRequest, arg?: IoctlArg): number {
      if (req.name === 'TIOCGICOUNT' && arg instanceof Buffer) encode(serial_icounter_struct, arch, counts, arg);
      else if (req.name === 'TIOCMGET' && arg instanceof Buffer) intArg(arch, 0).copy(arg);
      return 0;
    },
    ioctlBlocking(req: IoctlRequest): Promise<number> {
      if (req.name !== 'TIOCMIWAIT') return Promise.resolve(0);
      const next = waits.shift();
      return next ? next().then(() => 0) : new Promise(() => undefined);
    },
  };
  return file as DeviceFile;
}

describe('the modem-line watcher', () => {
  it('reports the lines whose counters moved, once per wake', async () => {
    const counts = { cts: 0, dcd: 0 };
    const seen: LinesChange[] = [];
    const lines = new ModemLines(
      driver(
        [
          async () => {
            counts.cts++;
          },
          async () => {
            counts.cts++;
            counts.dcd += 2;
          },
        ],
        counts,
      ),
      arch,
    );
    // Not awaited: after two wakes the third TIOCMIWAIT waits for ever, as on a quiet UART.
    void lines.watch((c) => {
      seen.push(c);
      if (seen.length === 2) lines.stop();
    });
    await new Promise((r) => setImmediate(r));
    expect(seen.map((c) => c.changed)).toEqual([['cts'], ['cts', 'cd']]);
    expect(seen[1]?.counters).toMatchObject({ cts: 2, dcd: 2 });
  });

  it('stops for good on ENOTTY (a pty) instead of spinning', async () => {
    const lines = new ModemLines(
      driver([() => Promise.reject(KernelError.of('ENOTTY', { syscall: 'ioctl', request: 'TIOCMIWAIT' }))], { cts: 0, dcd: 0 }),
      arch,
    );
    expect(await lines.watch(() => undefined)).toBe('unsupported');
  });

  it('gives up on a driver that wakes without any line moving', async () => {
    const waits = Array.from({ length: 1000 }, () => () => Promise.resolve());
    const lines = new ModemLines(driver(waits, { cts: 0, dcd: 0 }), arch);
    const why = await lines.watch(() => undefined);
    expect(why).toBeInstanceOf(KernelError);
    expect(waits.length).toBe(1000 - 64);
  });

  it('without counters, compares line levels', () => {
    const off = { dtr: true, rts: true, cts: false, dsr: true, cd: false, ri: false };
    expect(whichChanged(null, null, off, { ...off, cts: true, ri: true })).toEqual(['cts', 'ri']);
  });
});
