/**
 * The mtio constants against the kernel header (through gcc), and MTIOCGET
 * decoding on every architecture's layout: the st model fills the buffer as
 * a 32- or 64-bit kernel would, and the kind decodes the same numbers.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { allArches } from '../../../src/kernel/arch.js';
import { sizeOf } from '../../../src/kernel/ctypes.js';
import { mtget } from '../../../src/kernel/structs.js';
import { GMT, decodeStatus, gstatNames, mtioConstants, mtOpName } from '../../../src/devices/tape/mtio.js';
import { compileC } from '../../helpers/cprog.js';
import { requireTools } from '../../helpers/tools.js';
import { openSim, simKernel } from './sim-helpers.js';

const haveGcc = requireTools('the mtio constants against linux/mtio.h', 'gcc');

describe.skipIf(!haveGcc)('mtio constants', () => {
  // test/kernel/abi-gcc.test.ts checks the same list on every architecture, at compile time.
  it('every MT operation, GMT bit and mt_dsreg field the kind and the st model share equals linux/mtio.h', () => {
    const ours = mtioConstants();
    const src = `#include <stdio.h>\n#include <linux/mtio.h>\nint main(void){\n${ours
      .map(([n]) => `  printf("%s %lu\\n", ${JSON.stringify(n)}, (unsigned long)(${n}));`)
      .join('\n')}\n  return 0;\n}\n`;
    const exe = compileC('mtio-constants', src);
    const r = spawnSync(exe, [], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(ours.map(([n, v]) => `${n} ${v}`));
  });
});

describe('MTIOCGET on every architecture', () => {
  for (const arch of allArches()) {
    it(`${arch.name}: a ${sizeOf(mtget, arch)}-byte mtget from the model decodes to the same status`, async () => {
      const k = simKernel({ arch });
      try {
        const io = openSim(k);
        await io.write(Buffer.from('record'));
        await io.op('WEOF', 2);
        await io.op('BSF', 1);
        await io.op('SETBLK', 1024);
        const st = io.status();
        expect(st).toMatchObject({
          driveType: 'SCSI-2',
          mtType: 0x72,
          density: 0x58,
          densityName: 'LTO-5',
          blockSize: 1024,
          fileNumber: 1,
          blockNumber: -1,
          partition: 0,
          online: true,
          bot: false,
          eof: false,
          immReport: true,
        });
        await io.op('REW');
        expect(gstatNames(io.status().gstat)).toEqual(['BOT', 'ONLINE', 'IM_REP_EN']);
      } finally {
        k.dispose();
      }
    });
  }

  it('a 32-bit layout asked of a 64-bit model (or the reverse) is EINVAL, as st checks _IOC_SIZE', async () => {
    const { archByName } = await import('../../../src/kernel/arch.js');
    const { catalogue } = await import('../../../src/kernel/requests.js');
    const k = simKernel({ arch: archByName('x86_64') });
    try {
      const io = openSim(k);
      const armhf = catalogue(archByName('armhf')).get('MTIOCGET');
      expect(armhf.size).toBe(28);
      expect(() => io.file.ioctl(armhf, Buffer.alloc(48))).toThrow(expect.objectContaining({ code: 'EINVAL', request: 'MTIOCGET' }));
    } finally {
      k.dispose();
    }
  });

  it('decodes the EOF bit as a flag, not a negative number, when long is 32 bits', () => {
    const st = decodeStatus({
      mt_type: 0x72,
      mt_resid: 0,
      mt_dsreg: -0x1000000 + 512,
      mt_gstat: GMT.EOF | GMT.ONLINE | 0,
      mt_erreg: 3,
      mt_fileno: 2,
      mt_blkno: 0,
    });
    expect(st.eof).toBe(true);
    expect(st.density).toBe(0xff);
    expect(st.blockSize).toBe(512);
    expect(st.softErrors).toBe(3);
    expect(mtOpName(6)).toBe('MTREW');
    expect(mtOpName(99)).toBe('MT?99');
  });
});
