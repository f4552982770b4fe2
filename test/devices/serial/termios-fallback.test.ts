/**
 * Ports on kernels without termios2. QEMU 7.2's user mode answers TCGETS2 with
 * ENOSYS (the emulated-ABI job meets that for real), some container runtimes
 * and old kernels with ENOTTY or EINVAL. Here a real pty stands behind the
 * kernel seam, which answers the termios2 requests that way; the port must
 * fall back to TCGETS/TCSETS* and the standard rates, and say so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/kernel/errors.js';
import { LibcKernel } from '../../../src/kernel/libc.js';
import { openPty } from '../../../src/kernel/pty.js';
import { toErrorBody } from '../../../src/devices/errors.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import { makeTestDevice } from '../../helpers/device-context.js';
import { hookIoctls, refuse, type IoctlHook } from '../../helpers/kernel-hook.js';
import { emulated } from '../../helpers/native.js';
import { stty, sttyView } from '../../helpers/stty.js';
import { requireTool } from '../../helpers/tools.js';

const kernel = new LibcKernel();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const TERMIOS2 = ['TCGETS2', 'TCSETS2', 'TCSETSW2', 'TCSETSF2'];

function pty(): string {
  const p = openPty(kernel);
  cleanup.push(() => p.master.close());
  return p.slavePath;
}

const sttySpeed = (path: string): number => sttyView(path).speed;

/** A serial device on `path` whose kernel answers through `hook`; `used` lists every ioctl it asked for. */
async function device(path: string, hook: IoctlHook, options: Record<string, unknown> = {}) {
  const used: string[] = [];
  const t = await makeTestDevice(serialKind, {
    options: { path, ...options },
    wrapKernel: (k) =>
      hookIoctls(k, (req, arg, file) => {
        used.push(req.name);
        hook(req, arg, file);
      }),
  });
  cleanup.push(() => t.device.close());
  return { t, used };
}

const failure = (p: Promise<unknown>): Promise<ReturnType<typeof toErrorBody> | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => toErrorBody(e),
  );

const haveStty = requireTool('stty', 'reads the line settings back from outside');

describe.skipIf(!haveStty).each(['ENOSYS', 'ENOTTY', 'EINVAL'])('a kernel that answers termios2 with %s', (errno) => {
  it('the port opens through plain termios, raw at 115200 as stty sees it, and the state says "termios"', async () => {
    const path = pty();
    const { t, used } = await device(path, refuse(TERMIOS2, errno));
    await t.device.open();
    expect(t.device.state()).toMatchObject({ open: true, termios: 'termios', baud: 115200, dataBits: 8, parity: 'none' });
    const out = stty(path, '-a');
    expect(out).toMatch(/speed 115200 baud/);
    expect(out).toMatch(/min = 1; time = 0;/);
    for (const f of ['cs8', '-parenb', 'clocal', 'cread', '-icanon', '-echo', '-isig', '-opost']) expect(out.split(/\s+/), f).toContain(f);
    // termios2 was asked once; everything after went through plain termios.
    expect(used.filter((n) => TERMIOS2.includes(n))).toEqual(['TCGETS2']);
    expect(used).toContain('TCSETS');
  });

  it('configure moves between standard rates with TCSETS', async () => {
    const path = pty();
    const { t } = await device(path, refuse(TERMIOS2, errno));
    await t.device.open();
    expect(await t.run('configure', { baud: 9600, stopBits: 2 })).toMatchObject({ baud: 9600, stopBits: 2, adjusted: [] });
    expect(sttySpeed(path)).toBe(9600);
    expect(stty(path, '-a').split(/\s+/)).toContain('cstopb');
    expect(t.device.state()).toMatchObject({ baud: 9600, stopBits: 2, termios: 'termios' });
  });

  it('a rate without a Bnnn constant is bad_args naming the reason, and the line keeps its speed', async () => {
    const path = pty();
    const { t } = await device(path, refuse(TERMIOS2, errno));
    await t.device.open();
    const e = await failure(t.run('configure', { baud: 250000 }));
    expect(e).toMatchObject({ code: 'bad_args', termios: 'termios' });
    expect(e?.message).toContain('baud 250000 needs termios2 (BOTHER)');
    expect(e?.message).toContain(`TCGETS2 answered ${errno}`);
    expect(e?.message).toContain(path);
    expect(e?.message).toContain('115200, 230400');
    expect(sttySpeed(path)).toBe(115200);
    expect(t.device.state()).toMatchObject({ baud: 115200 });
  });

  it('configured with such a rate, the port does not open, and says why', async () => {
    const path = pty();
    const { t } = await device(path, refuse(TERMIOS2, errno), { baud: 31250 });
    const e = await failure(t.device.open());
    expect(e).toMatchObject({ code: 'bad_args' });
    expect(e?.message).toContain('baud 31250 needs termios2');
    expect(t.device.state()).toMatchObject({ open: false, termios: null });
    // stty can open it again; as root that holds even on an exclusive tty, so termios-pty.test.ts checks TIOCGEXCL.
    expect(() => stty(path, '-a')).not.toThrow();
  });

  it('close gives the port back with the termios it had, through TCSETSW', async () => {
    const path = pty();
    stty(path, '9600', 'cstopb', '-clocal', 'icanon', 'echo', 'ixon');
    const before = stty(path, '-g');
    const { t, used } = await device(path, refuse(TERMIOS2, errno), { baud: 460800 });
    await t.device.open();
    expect(sttySpeed(path)).toBe(460800);
    await t.device.close();
    expect(stty(path, '-g')).toBe(before);
    expect(used).toContain('TCSETSW');
  });
});

describe.skipIf(!haveStty)('when termios2 is refused', () => {
  // Under qemu-user TCGETS2 itself answers ENOSYS, so this case's premise (TCGETS2 works) exists only natively.
  it.skipIf(emulated)('TCGETS2 works but TCSETS2 answers EINVAL: the port falls back as it sets', async () => {
    const path = pty();
    const { t, used } = await device(path, refuse(['TCSETS2', 'TCSETSW2', 'TCSETSF2'], 'EINVAL'));
    await t.device.open();
    expect(t.device.state()).toMatchObject({ open: true, termios: 'termios', baud: 115200 });
    expect(sttySpeed(path)).toBe(115200);
    expect(used.slice(0, used.indexOf('TCSETS'))).toContain('TCSETS2');
    const e = await failure(t.run('configure', { baud: 250000 }));
    expect(e?.message).toContain('TCSETS2 answered EINVAL');
  });

  it('any other answer to TCGETS2 is the port failing, named as such', async () => {
    const path = pty();
    const { t, used } = await device(path, refuse(['TCGETS2'], 'EIO'));
    const e = await t.device.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(KernelError);
    expect(e).toMatchObject({ code: 'EIO', request: 'TCGETS2', path });
    expect(used).not.toContain('TCGETS');
  });
});

describe("this machine's own kernel", () => {
  // Natively the kernel has termios2. Under the emulated-ABI job QEMU 7.2 refuses it for real (ENOSYS).
  it(`drives a pty with ${emulated ? 'plain termios (qemu-user has no termios2)' : 'termios2'}`, async () => {
    const path = pty();
    const t = await makeTestDevice(serialKind, { options: { path, baud: 57600 } });
    cleanup.push(() => t.device.close());
    await t.device.open();
    expect(t.device.state()).toMatchObject({ open: true, baud: 57600, termios: emulated ? 'termios' : 'termios2' });
    const other = await failure(t.run('configure', { baud: 250000 }));
    if (emulated) expect(other).toMatchObject({ code: 'bad_args' });
    else expect(other).toBeUndefined();
  });
});
