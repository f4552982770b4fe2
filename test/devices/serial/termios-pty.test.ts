/**
 * Line settings on real ptys through the core, checked from outside: `stty -F`
 * on the slave for standard speeds and flags, the gcc-compiled termios2 reader
 * for BOTHER speeds (glibc 2.36's stty prints 0 for those).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { allArches, archByName } from '../../../src/kernel/arch.js';
import { intArg, readInt } from '../../../src/kernel/codec.js';
import { O, type DeviceFile } from '../../../src/kernel/kernel.js';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { openPty } from '../../../src/kernel/pty.js';
import { catalogue } from '../../../src/kernel/requests.js';
import { baudConstants, termBits } from '../../../src/kernel/termbits.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import { rawTermios, settingsFromTermios, speedBits } from '../../../src/devices/serial/termios.js';
import { DEFAULT_SETTINGS } from '../../../src/devices/serial/options.js';
import { termios2Speed } from '../../helpers/cprog.js';
import { requireTool } from '../../helpers/tools.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { hookIoctls, refuse } from '../../helpers/kernel-hook.js';
import { stty, sttyView } from '../../helpers/stty.js';

const kernel = new LibcKernel();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A pty whose master stays open here (the slave is the "serial port"). */
function pty(): string {
  const p = openPty(kernel);
  cleanup.push(() => p.master.close());
  return p.slavePath;
}

async function openDevice(path: string, options: Record<string, unknown> = {}) {
  const t = await makeTestDevice(serialKind, { options: { path, ...options } });
  await t.device.open();
  cleanup.push(() => t.device.close());
  return t;
}

const haveStty = requireTool('stty', 'reads back the line settings from outside');
const haveGcc = requireTool('gcc', 'compiles the termios2 reader for BOTHER speeds');

describe.skipIf(!haveStty)('standard speeds and line settings, seen by stty -F', () => {
  it.each([1200, 9600, 19200, 57600, 115200, 230400, 921600])('%i baud is set with its Bnnn constant', async (baud) => {
    const path = pty();
    const t = await openDevice(path, { baud });
    expect(sttyView(path).speed).toBe(baud);
    expect(t.device.state()).toMatchObject({ open: true, baud });
  });

  it('opening puts the line in raw 8N1 without flow control, local, receiver on', async () => {
    const path = pty();
    await openDevice(path);
    const { flags } = sttyView(path);
    for (const f of [
      'cs8',
      '-parenb',
      '-cstopb',
      '-crtscts',
      'cread',
      'clocal',
      '-icanon',
      '-echo',
      '-isig',
      '-iexten',
      '-icrnl',
      '-ixon',
      '-ixoff',
      '-opost',
      '-inpck',
    ]) {
      expect(flags, f).toContain(f);
    }
    expect(stty(path, '-a')).toMatch(/min = 1; time = 0;/);
  });

  // The pty driver keeps what it can carry: it forces CS8 and clears PARENB itself
  // (pty_set_termios), but stores stop bits, flow control and the parity kind bits.
  it.each([
    [{ stopBits: 2 }, ['cstopb', '-crtscts']],
    [{ rtscts: true }, ['crtscts', '-cstopb']],
    [{ parity: 'odd', stopBits: 2, rtscts: true }, ['parodd', '-cmspar', 'cstopb', 'crtscts']],
    [{ parity: 'mark' }, ['parodd', 'cmspar']],
    [{ parity: 'space' }, ['-parodd', 'cmspar']],
  ] as const)('%o reaches the kernel', async (settings, expected) => {
    const path = pty();
    await openDevice(path, settings);
    const { flags } = sttyView(path);
    for (const f of expected) expect(flags, f).toContain(f);
  });

  it('what the driver would not take is reported as adjusted, and the state shows what applies', async () => {
    const path = pty();
    const t = await openDevice(path);
    const r = await t.run('configure', { baud: 57600, parity: 'even', dataBits: 7, stopBits: 2 });
    expect(r).toEqual({ baud: 57600, dataBits: 8, parity: 'none', stopBits: 2, rtscts: false, adjusted: ['dataBits', 'parity'] });
    const { speed, flags } = sttyView(path);
    expect(speed).toBe(57600);
    expect(flags).toContain('cs8');
    expect(flags).toContain('-parenb');
    expect(flags).toContain('cstopb');
    expect(t.device.state()).toMatchObject({ baud: 57600, dataBits: 8, parity: 'none', stopBits: 2 });
  });

  it('close gives the port back with the termios it had', async () => {
    const path = pty();
    stty(path, '9600', 'cstopb', '-clocal', 'icanon', 'echo', 'ixon');
    const before = stty(path, '-g');
    const t = await openDevice(path, { baud: 460800 });
    expect(stty(path, '-g')).not.toBe(before);
    await t.device.close();
    expect(stty(path, '-g')).toBe(before);
  });
});

describe.skipIf(!haveGcc)('any other speed goes through BOTHER', () => {
  it.each([250000, 31250, 1234567])('%i baud: c_ispeed/c_ospeed with BOTHER, read back by a C program', async (baud) => {
    const path = pty();
    const t = await openDevice(path, { baud });
    expect(termios2Speed(path)).toBe(`${baud} ${baud} BOTHER`);
    expect(t.device.state()).toMatchObject({ baud });
  });

  it('a standard speed is not BOTHER', async () => {
    const path = pty();
    await openDevice(path, { baud: 115200 });
    expect(termios2Speed(path)).toBe('115200 115200 Bnnn');
  });
});

describe('the port is taken exclusively', () => {
  function excl(path: string): number {
    const f: DeviceFile = kernel.open(path, O.RDONLY | O.NOCTTY | O.NONBLOCK);
    try {
      const n = intArg(kernel.arch);
      f.ioctl(catalogue(kernel.arch).get('TIOCGEXCL'), n);
      return readInt(kernel.arch, n);
    } finally {
      f.close();
    }
  }

  it('with TIOCEXCL while open, released on close', async () => {
    const path = pty();
    const t = await openDevice(path);
    expect(excl(path)).toBe(1);
    await t.device.close();
    expect(excl(path)).toBe(0);
  });

  // The flag belongs to the tty, not to our descriptor: while anyone else holds the tty (a pty's master, a
  // modem manager) it outlives our close, and every later open but root's, the agent's own retry included, is EBUSY.
  it('an open that fails after TIOCEXCL gives exclusivity back', async () => {
    const path = pty();
    // A rate plain termios cannot carry, on a kernel without termios2: refused with bad_args after TIOCEXCL.
    const t = await makeTestDevice(serialKind, {
      options: { path, baud: 31250 },
      wrapKernel: (k) => hookIoctls(k, refuse(['TCGETS2', 'TCSETS2', 'TCSETSW2', 'TCSETSF2'], 'ENOSYS')),
    });
    await expect(t.device.open()).rejects.toMatchObject({ code: 'bad_args' });
    expect(excl(path)).toBe(0);
  });

  it('unless `exclusive` is false', async () => {
    const path = pty();
    await openDevice(path, { exclusive: false });
    expect(excl(path)).toBe(0);
  });
});

describe('a plain pty has no modem lines', () => {
  it('`lines` fails with device_error ENOTTY naming TIOCMGET and the path', async () => {
    const path = pty();
    const t = await openDevice(path);
    const e = await t.run('lines').then(
      () => undefined,
      (err: unknown) => toErrorBody(err),
    );
    expect(e).toMatchObject({ code: 'device_error', errno: 'ENOTTY', request: 'TIOCMGET', path });
  });

  it('the state says so, and the line watcher stopped instead of spinning', async () => {
    const path = pty();
    const t = await openDevice(path);
    // The watcher learns it from TIOCMIWAIT's ENOTTY, off the loop: wait for that answer.
    while (t.device.state().lineEvents === 'watching') await new Promise((r) => setTimeout(r, 5));
    expect(t.device.state()).toMatchObject({ lines: null, linesError: 'ENOTTY', lineEvents: 'unsupported', counters: null });
  });
});

describe('termios encoding for every arch', () => {
  it("standard rates use the family's Bnnn, others BOTHER", () => {
    expect(speedBits(archByName('x86_64'), 115200)).toEqual({ cbaud: 0x1002, bother: false });
    expect(speedBits(archByName('ppc64'), 115200)).toEqual({ cbaud: 0x11, bother: false });
    expect(speedBits(archByName('sparc64'), 921600)).toEqual({ cbaud: 0x1009, bother: false });
    expect(speedBits(archByName('sparc64'), 4000000)).toEqual({ cbaud: 0x1000, bother: true });
    expect(speedBits(archByName('mips'), 250000)).toEqual({ cbaud: 0x1000, bother: true });
    expect(speedBits(archByName('ppc64le'), 250000)).toEqual({ cbaud: 0x1f, bother: true });
  });

  it.each(allArches().map((a) => [a.name, a] as const))('%s: raw settings survive a round trip through the flags', (_n, arch) => {
    const t = termBits(arch);
    const base = {
      c_iflag: t.ICRNL | t.IXON,
      c_oflag: t.OPOST,
      c_cflag: t.CS8 | t.CREAD | t.HUPCL,
      c_lflag: t.ICANON | t.ECHO | t.ISIG,
      c_line: 0,
      c_cc: new Array(19).fill(0),
      c_ispeed: 9600,
      c_ospeed: 9600,
    };
    for (const baud of [...baudConstants(arch).keys()].filter((b) => b > 0).concat([250000])) {
      for (const s of [DEFAULT_SETTINGS, { baud, dataBits: 7, parity: 'mark', stopBits: 2, rtscts: true } as const]) {
        const raw = rawTermios(arch, base, { ...s, baud });
        expect(settingsFromTermios(arch, raw)).toEqual({ ...s, baud });
        expect(raw.c_lflag & (t.ICANON | t.ECHO | t.ISIG)).toBe(0);
        expect(raw.c_cflag & t.HUPCL).toBe(t.HUPCL);
        expect(raw.c_cc[t.VMIN]).toBe(1);
      }
    }
  });
});
