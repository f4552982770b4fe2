import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
  }).then((code) => ({ code, out, err }));
}

describe('dev2mqtt ioctl', () => {
  it('list --json gives name, hex value, dir, type, nr and size for the chosen arch', async () => {
    const r = await capture(['ioctl', 'list', '--arch', 'armhf', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as Array<{ name: string; value: string; dir: string; type: number; nr: number; size: number }>;
    const mtget = list.find((e) => e.name === 'MTIOCGET');
    expect(mtget).toMatchObject({ value: '0x801c6d02', dir: 'read', type: 0x6d, nr: 2, size: 28 });
    expect(list.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        'MTIOCTOP',
        'MTIOCGET',
        'MTIOCPOS',
        'TCGETS2',
        'TCSETS2',
        'TIOCMGET',
        'TIOCMSET',
        'TIOCMBIS',
        'TIOCMBIC',
        'TIOCMIWAIT',
        'TIOCGICOUNT',
        'TIOCGSERIAL',
        'FIONREAD',
        'TIOCOUTQ',
        'TCFLSH',
        'TCSBRK',
        'TIOCSBRK',
        'TIOCCBRK',
        'TIOCEXCL',
        'TIOCNXCL',
        'GPIO_GET_CHIPINFO_IOCTL',
        'GPIO_V2_GET_LINEINFO_IOCTL',
        'GPIO_V2_GET_LINE_IOCTL',
        'GPIO_V2_LINE_SET_CONFIG_IOCTL',
        'GPIO_V2_LINE_GET_VALUES_IOCTL',
        'GPIO_V2_LINE_SET_VALUES_IOCTL',
      ]),
    );
    for (const e of list) expect(e.value).toMatch(/^0x[0-9a-f]{8}$/);
  });

  it('list takes every contract arch', async () => {
    for (const arch of ['x86_64', 'aarch64', 'armhf', 'i386', 'mips', 'ppc64', 'sparc64']) {
      const r = await capture(['ioctl', 'list', '--arch', arch]);
      expect(r.code, arch).toBe(0);
      expect(r.out).toContain(`# ioctl requests for ${arch}`);
    }
  });

  it('decode splits a number and names it', async () => {
    const r = await capture(['ioctl', 'decode', '0x80306d02', '--arch', 'x86_64']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/direction read/);
    expect(r.out).toMatch(/type\s+'m'/);
    expect(r.out).toMatch(/size\s+48 bytes/);
    expect(r.out).toMatch(/names\s+MTIOCGET/);
    const j = await capture(['ioctl', 'decode', 'MTIOCGET', '--arch', 'i386', '--json']);
    expect(JSON.parse(j.out)).toMatchObject({ value: '0x801c6d02', size: 28, names: ['MTIOCGET'] });
  });

  it('bad input is a usage error with exit code 2', async () => {
    expect((await capture(['ioctl', 'decode', 'nonsense'])).code).toBe(2);
    expect((await capture(['ioctl', 'list', '--arch', 'vax'])).err).toMatch(/unknown architecture 'vax'/);
    expect((await capture(['ioctl', 'list', '--bogus'])).code).toBe(2);
  });

  it('--help works for the binary and for ioctl, through the built launcher', () => {
    const top = runCli(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toContain('ioctl');
    const sub = runCli(['ioctl', '--help']);
    expect(sub.status).toBe(0);
    expect(sub.stdout).toContain('dev2mqtt ioctl list');
  });
});
