/**
 * Status and tape-motion commands. Each is one `mt` operation (docs/kinds/tape.md
 * lists which); each returns the status after it, so a caller always knows
 * where the tape is. `rewind`, `load` and `unload` are idempotent: asking
 * again for the state the drive is in succeeds without moving anything.
 */
import { s } from '../../schema/schema.js';
import { command, type CommandSpec } from '../kind.js';
import { CommandError } from '../errors.js';
import { isKernelError } from '../../kernel/errors.js';
import type { TapeDevice } from './device.js';
import type { MtOpName, TapeStatus } from './mtio.js';

const MIN = 60_000;
const count = (what: string, min = 1) => s.object({ count: s.int({ min, max: 0x7fffff }).default(1).doc(what) });

/** Runs one MTIOCTOP operation with the drive marked busy; answers the status after it. */
async function operate(dev: TapeDevice, command: string, op: MtOpName, n = 1): Promise<TapeStatus> {
  await dev.busyWhile(command, () => dev.io.op(op, n));
  return dev.refresh();
}

function motion(name: string, description: string, op: MtOpName, timeoutMs: number): CommandSpec<TapeDevice, unknown> {
  return command({ description, args: s.none(), timeoutMs, run: (dev: TapeDevice) => operate(dev, name, op) });
}

function counted(
  name: string,
  description: string,
  op: MtOpName,
  timeoutMs: number,
  what: string,
  min = 1,
): CommandSpec<TapeDevice, unknown> {
  return command({ description, args: count(what, min), timeoutMs, run: (dev: TapeDevice, a) => operate(dev, name, op, a.count) });
}

function requireReady(dev: TapeDevice, st: TapeStatus, want: { online?: boolean; writable?: boolean }): void {
  const id = dev.ctx.id;
  if (want.online && !st.online) {
    const why = st.doorOpen
      ? `${id} has no tape loaded (door open): load a cartridge, then retry`
      : `${id} is not online (the drive is not ready)`;
    throw new CommandError('device_error', why, { reason: 'offline', status: st });
  }
  if (want.writable && st.writeProtected) {
    throw new CommandError('device_error', `the tape in ${id} is write-protected: slide the tab or load another cartridge`, {
      reason: 'write_protected',
      status: st,
    });
  }
}

export const motionCommands: Record<string, CommandSpec<TapeDevice, unknown>> = {
  status: command({
    description:
      'MTIOCGET decoded (mt status). requireOnline/requireWritable make it fail with device_error unless the drive is ready (a batch stops there)',
    args: s.object({
      requireOnline: s.boolean().default(false).doc('fail unless a tape is loaded and the drive is online'),
      requireWritable: s.boolean().default(false).doc('fail if the tape is write-protected'),
    }),
    timeoutMs: 10_000,
    run: (dev: TapeDevice, a) => {
      const st = dev.refresh();
      requireReady(dev, st, { online: a.requireOnline, writable: a.requireWritable });
      return st;
    },
  }),
  rewind: motion('rewind', 'MTREW: rewind to the beginning (mt rewind); idempotent', 'REW', 15 * MIN),
  fsf: counted('fsf', 'MTFSF: forward past count filemarks (mt fsf)', 'FSF', 30 * MIN, 'filemarks'),
  bsf: counted('bsf', 'MTBSF: back over count filemarks, stopping before the last (mt bsf)', 'BSF', 30 * MIN, 'filemarks'),
  fsfm: counted('fsfm', 'MTFSFM: forward over count filemarks, stopping before the last (mt fsfm)', 'FSFM', 30 * MIN, 'filemarks'),
  bsfm: counted('bsfm', 'MTBSFM: back over count filemarks, stopping after the last (mt bsfm)', 'BSFM', 30 * MIN, 'filemarks'),
  fsr: counted('fsr', 'MTFSR: forward over count records (mt fsr)', 'FSR', 30 * MIN, 'records'),
  bsr: counted('bsr', 'MTBSR: back over count records (mt bsr)', 'BSR', 30 * MIN, 'records'),
  weof: counted('weof', 'MTWEOF: write count filemarks (mt weof); 0 flushes the drive buffer', 'WEOF', 10 * MIN, 'filemarks', 0),
  eom: motion('eom', 'MTEOM: space to end of data, to append (mt eod)', 'EOM', 30 * MIN),
  erase: command({
    description: 'MTERASE: erase from here to the end of the tape (mt erase); long: false writes only an end-of-data mark',
    args: s.object({ long: s.boolean().default(true).doc('long erase (hours on a full-size cartridge)') }),
    timeoutMs: 8 * 60 * MIN,
    run: (dev: TapeDevice, a) => operate(dev, 'erase', 'ERASE', a.long ? 1 : 0),
  }),
  retension: motion('retension', 'MTRETEN: wind to the end and back (mt retension)', 'RETEN', 30 * MIN),
  load: command({
    description: 'MTLOAD: load the cartridge (mt load); idempotent',
    args: s.none(),
    timeoutMs: 10 * MIN,
    run: async (dev: TapeDevice) => {
      const before = dev.refresh();
      if (before.online) return { ...before, alreadyLoaded: true };
      return { ...(await operate(dev, 'load', 'LOAD')), alreadyLoaded: false };
    },
  }),
  unload: command({
    description: 'MTOFFL: rewind, unlock the door and eject (mt offline); idempotent',
    args: s.none(),
    timeoutMs: 15 * MIN,
    run: async (dev: TapeDevice) => {
      const before = dev.refresh();
      if (before.doorOpen) return { ...before, alreadyUnloaded: true };
      try {
        return { ...(await operate(dev, 'unload', 'OFFL')), alreadyUnloaded: false };
      } catch (e) {
        // Ejected by hand since the last status: st only learns it now.
        if (isKernelError(e, 'ENOMEDIUM')) return { ...dev.refresh(), alreadyUnloaded: true };
        throw e;
      }
    },
  }),
  lock: motion('lock', 'MTLOCK: lock the drive door (mt lock)', 'LOCK', MIN),
  unlock: motion('unlock', 'MTUNLOCK: unlock the drive door (mt unlock)', 'UNLOCK', MIN),
  setblk: command({
    description: 'MTSETBLK: fixed block size in bytes, 0 for variable-block mode (mt setblk)',
    args: s.object({ size: s.int({ min: 0, max: 0xffffff }).doc('bytes; 0: variable') }),
    timeoutMs: MIN,
    run: (dev: TapeDevice, a) => operate(dev, 'setblk', 'SETBLK', a.size),
  }),
  setdensity: command({
    description: 'MTSETDENSITY: density code (mt setdensity)',
    args: s.object({ code: s.int({ min: 0, max: 255 }) }),
    timeoutMs: MIN,
    run: (dev: TapeDevice, a) => operate(dev, 'setdensity', 'SETDENSITY', a.code),
  }),
  seek: command({
    description:
      'MTSEEK: go to a logical block (records and filemarks counted from the start; mt seek). File and block numbers are unknown (-1) after it',
    args: s.object({ block: s.int({ min: 0, max: 0x7fffffff }) }),
    timeoutMs: 30 * MIN,
    run: (dev: TapeDevice, a) => operate(dev, 'seek', 'SEEK', a.block),
  }),
  tell: command({
    description: 'MTIOCPOS: the logical block the tape is at (mt tell)',
    args: s.none(),
    timeoutMs: MIN,
    run: async (dev: TapeDevice) => {
      const block = await dev.busyWhile('tell', () => dev.io.position());
      return { block, ...dev.refresh() };
    },
  }),
};
