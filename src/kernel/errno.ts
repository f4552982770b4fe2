/**
 * errno numbers and names for this process's architecture. Node knows the
 * POSIX ones; the few Linux-only ones a tape drive or a damaged filesystem returns are
 * added here with their per-arch numbers (asm-generic/errno.h, and mips/sparc's own).
 */
import os from 'node:os';
import util from 'node:util';
import { hostArch, type TtyFamily } from './arch.js';

const LINUX_EXTRA: Record<string, { generic: number; mips: number; sparc: number; message: string }> = {
  ENOMEDIUM: { generic: 123, mips: 159, sparc: 125, message: 'no medium found' },
  EMEDIUMTYPE: { generic: 124, mips: 160, sparc: 126, message: 'wrong medium type' },
  // A filesystem that found its own structures (EUCLEAN) or checksums (EBADMSG) broken: libuv names neither.
  EUCLEAN: { generic: 117, mips: 135, sparc: 117, message: 'structure needs cleaning' },
  EBADMSG: { generic: 74, mips: 77, sparc: 76, message: 'bad message' },
};

/** The Linux-only errnos above with their numbers on `family`, as asm/errno.h spells them (for the header check). */
export function linuxOnlyErrnos(family: TtyFamily): Array<[string, number]> {
  return Object.keys(LINUX_EXTRA).map((name): [string, number] => [name, extraNumber(name, family) ?? -1]);
}

function extraNumber(name: string, family: TtyFamily): number | undefined {
  const e = LINUX_EXTRA[name];
  if (!e) return undefined;
  return family === 'mips' ? e.mips : family === 'sparc' ? e.sparc : e.generic;
}

const byName = new Map<string, number>();
const byNumber = new Map<number, string>();
{
  const family = hostArch().tty;
  for (const [name, n] of Object.entries(os.constants.errno)) {
    byName.set(name, n);
    if (!byNumber.has(n)) byNumber.set(n, name);
  }
  for (const name of Object.keys(LINUX_EXTRA)) {
    const n = extraNumber(name, family);
    if (n !== undefined && !byName.has(name)) {
      byName.set(name, n);
      byNumber.set(n, name);
    }
  }
  // EWOULDBLOCK and EAGAIN share a number; report the name every man page uses.
  const eagain = byName.get('EAGAIN');
  if (eagain !== undefined) byNumber.set(eagain, 'EAGAIN');
  const edeadlk = byName.get('EDEADLK');
  if (edeadlk !== undefined) byNumber.set(edeadlk, 'EDEADLK');
}

export type ErrnoName = string;

export function errnoNumber(name: ErrnoName): number {
  const n = byName.get(name);
  if (n === undefined) throw new RangeError(`unknown errno name ${name}`);
  return n;
}

export function errnoName(n: number): ErrnoName {
  return byNumber.get(n) ?? `E${n}`;
}

const systemMessages = util.getSystemErrorMap();

export function errnoMessage(n: number): string {
  const name = errnoName(n);
  return systemMessages.get(-n)?.[1] ?? LINUX_EXTRA[name]?.message ?? `error ${n}`;
}
