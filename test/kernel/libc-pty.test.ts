/**
 * Real syscalls through the core on pseudo-terminals and plain files. The
 * emulated-ABI job runs this file too, in an armhf and an arm64 Node under
 * qemu-user, where every request goes through QEMU's syscall translation.
 */
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode, alloc, intArg, readInt } from '../../src/kernel/codec.js';
import { KernelError } from '../../src/kernel/errors.js';
import { O, POLL, type DeviceFile } from '../../src/kernel/kernel.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import { openPty } from '../../src/kernel/pty.js';
import { catalogue, termiosRequests } from '../../src/kernel/requests.js';
import { termios, termios2 } from '../../src/kernel/structs.js';
import { termBits } from '../../src/kernel/termbits.js';
import { termios2Speed } from '../helpers/cprog.js';
import { emulated, spawnNativeSync } from '../helpers/native.js';

const kernel = new LibcKernel();
const cat = catalogue(kernel.arch);
const bits = termBits(kernel.arch);
const opened: DeviceFile[] = [];

function track<T extends DeviceFile>(f: T): T {
  opened.push(f);
  return f;
}

function ptyPair(): { master: DeviceFile; slave: DeviceFile; slavePath: string } {
  const { master, slavePath } = openPty(kernel);
  track(master);
  const slave = track(kernel.open(slavePath, O.RDWR | O.NOCTTY | O.NONBLOCK));
  return { master, slave, slavePath };
}

afterEach(() => {
  for (const f of opened.splice(0)) f.close();
});

function caught(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}

describe('libc kernel on a pseudo-terminal', () => {
  // QEMU 7.2's user mode translates TCGETS/TCSETS* but not termios2: the serial kind falls back (termios-io.ts).
  it.runIf(emulated)('under qemu-user, TCGETS2 answers ENOSYS, naming the request and the path', () => {
    const { slave, slavePath } = ptyPair();
    const e = caught(() => slave.ioctl(cat.get('TCGETS2'), alloc(termios2, kernel.arch)));
    expect(e.code).toBe('ENOSYS');
    expect(e.request).toBe('TCGETS2');
    expect(e.path).toBe(slavePath);
  });

  it.skipIf(emulated)('TCSETS2 with BOTHER sets an arbitrary speed (250000) and TCGETS2 reads it back', () => {
    const { slave, slavePath } = ptyPair();
    const { get, set } = termiosRequests(kernel.arch);
    const buf = alloc(termios2, kernel.arch);
    slave.ioctl(get, buf);
    const before = decode(termios2, kernel.arch, buf);
    const cflag = (before.c_cflag & ~bits.CBAUD & ~bits.CIBAUD) | bits.BOTHER | (bits.BOTHER << bits.IBSHIFT);
    slave.ioctl(set, encode(termios2, kernel.arch, { ...before, c_cflag: cflag, c_ispeed: 250000, c_ospeed: 250000 }));

    const again = alloc(termios2, kernel.arch);
    slave.ioctl(get, again);
    const after = decode(termios2, kernel.arch, again);
    expect(after.c_ospeed).toBe(250000);
    expect(after.c_ispeed).toBe(250000);
    expect(after.c_cflag & bits.CBAUD).toBe(bits.BOTHER);
    // And the kernel tells a C program the same (glibc 2.36's stty prints 0 for BOTHER speeds).
    expect(termios2Speed(slavePath)).toBe('250000 250000 BOTHER');
  });

  it('FIONREAD counts the bytes written on the other side', async () => {
    const { master, slave } = ptyPair();
    // Raw mode on the slave, so the line discipline hands bytes over without waiting for a newline.
    // Plain termios (TCGETS/TCSETS): every kernel and every emulator has it.
    const raw = alloc(termios, kernel.arch);
    slave.ioctl(cat.get('TCGETS'), raw);
    const t = decode(termios, kernel.arch, raw);
    slave.ioctl(cat.get('TCSETS'), encode(termios, kernel.arch, { ...t, c_lflag: t.c_lflag & ~(bits.ICANON | bits.ECHO | bits.ISIG) }));

    expect(master.write(Buffer.from('hello, modem'))).toBe(12);
    const n = intArg(kernel.arch);
    // The pty moves bytes to the reader in a kernel work item: wait for them to land.
    while (readInt(kernel.arch, n) < 12) {
      await slave.poll(POLL.IN, 5000);
      slave.ioctl(cat.get('FIONREAD'), n);
    }
    expect(readInt(kernel.arch, n)).toBe(12);
    const got = Buffer.alloc(64);
    expect(slave.read(got)).toBe(12);
    expect(got.subarray(0, 12).toString()).toBe('hello, modem');
    expect(slave.read(got)).toBeNull(); // nothing left: EAGAIN becomes null, not an error
  });

  it('TIOCMGET on a pty fails with ENOTTY, naming the request and the path', () => {
    const { slave, slavePath } = ptyPair();
    const e = caught(() => slave.ioctl(cat.get('TIOCMGET'), intArg(kernel.arch)));
    expect(e.code).toBe('ENOTTY');
    expect(e.request).toBe('TIOCMGET');
    expect(e.path).toBe(slavePath);
    expect(e.syscall).toBe('ioctl');
    expect(e.message).toContain('TIOCMGET');
    expect(e.message).toContain(slavePath);
    expect(e.message).toContain('ENOTTY');
    expect(e.disconnected).toBe(false);
  });

  it('an ioctl on a regular file gives ENOTTY, on a closed descriptor EBADF', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-libc-'));
    const file = path.join(dir, 'plain');
    writeFileSync(file, 'not a device');
    const f = kernel.open(file, O.RDONLY);
    const e1 = caught(() => f.ioctl(cat.get('TCGETS'), alloc(termios, kernel.arch)));
    expect(e1.code).toBe('ENOTTY');
    expect(e1.path).toBe(file);
    f.close();
    expect(f.closed).toBe(true);
    const e2 = caught(() => f.ioctl(cat.get('TCGETS'), alloc(termios, kernel.arch)));
    expect(e2.code).toBe('EBADF');
    expect(e2.message).toContain('TCGETS');
  });

  it('open of a missing device names the path and counts as disconnected', () => {
    const e = caught(() => kernel.open('/dev/ttyUSB-not-there', O.RDWR));
    expect(e.code).toBe('ENOENT');
    expect(e.syscall).toBe('open');
    expect(e.path).toBe('/dev/ttyUSB-not-there');
    expect(e.disconnected).toBe(true);
  });

  it('watch() calls back on the event loop when the other side writes', async () => {
    const { master, slave } = ptyPair();
    const ready = new Promise<boolean>((resolve) => {
      const w = master.watch({ readable: true }, (ev) => {
        w.stop();
        resolve(ev.readable);
      });
    });
    slave.write(Buffer.from('x\n'));
    expect(await ready).toBe(true);
  });
});

describe('blocking calls run off the event loop', () => {
  it('a long poll on a silent pty lets timers and fs work run while it waits', async () => {
    const { master, slave } = ptyPair();
    const order: string[] = [];
    const waiting = master.poll(POLL.IN, 60_000).then((revents) => {
      order.push(`poll:${revents & POLL.IN}`);
    });
    await new Promise<void>((r) =>
      setTimeout(() => {
        order.push('timer');
        r();
      }, 5),
    );
    // The fs call needs a pool thread too: the blocked poll must not take the last one.
    await readFile(new URL(import.meta.url)).then(() => order.push('fs'));
    // Only now wake the poll: nothing here depends on how long anything took.
    slave.write(Buffer.from('wake\n'));
    await waiting;
    expect(order).toEqual(['timer', 'fs', `poll:${POLL.IN}`]);
  });

  it('a blocked poll returns as soon as data arrives', async () => {
    const { master, slave } = ptyPair();
    const waiting = master.poll(POLL.IN, 30_000);
    setTimeout(() => slave.write(Buffer.from('ring\n')), 10);
    const revents = await waiting;
    expect(revents & POLL.IN).toBe(POLL.IN);
  });

  it('ioctlBlocking reports errno from the worker thread', async () => {
    const { slave, slavePath } = ptyPair();
    // TIOCMIWAIT blocks on a real UART; a pty refuses it at once with ENOTTY (EINVAL on old kernels).
    const err = await slave.ioctlBlocking(cat.get('TIOCMIWAIT'), 0x20).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KernelError);
    expect(['ENOTTY', 'EINVAL']).toContain((err as KernelError).code);
    expect((err as KernelError).request).toBe('TIOCMIWAIT');
    expect((err as KernelError).path).toBe(slavePath);
  });
});

describe('readBlocking/writeBlocking', () => {
  it('move bytes through a pty off the loop', async () => {
    const { master, slave } = ptyPair();
    expect(await slave.writeBlocking(Buffer.from('AT\r'))).toBe(3);
    await master.poll(POLL.IN, 5000);
    const buf = Buffer.alloc(16);
    const n = await master.readBlocking(buf);
    expect(buf.subarray(0, n).toString()).toContain('AT');
  });
});

describe('the thread pool is sized for the devices that block', () => {
  const script = fileURLToPath(new URL('../fixtures/pool-starvation.cjs', import.meta.url));
  const run = (plan: boolean): string[] => {
    const env = { ...process.env };
    delete env.UV_THREADPOOL_SIZE;
    const r = spawnNativeSync(process.execPath, [script, plan ? 'plan' : 'default'], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    return r.stdout.trim().split('\n');
  };

  it("with libuv's default four threads, four blocked devices starve file I/O until one returns", () => {
    const order = run(false);
    expect(order.indexOf('fs')).toBeGreaterThan(order.indexOf('first-poll-returned'));
  });

  it('planThreadPool(4) adds a thread per blocking device, so file I/O goes on while all four wait', () => {
    const order = run(true);
    expect(order[0]).toBe('pool 8');
    expect(order.indexOf('fs')).toBeLessThan(order.indexOf('first-poll-returned'));
  });
});
