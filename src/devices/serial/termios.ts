/**
 * Line settings ↔ termios flags, in termios2's shape (termios-io.ts moves
 * them through termios2 or plain termios). Raw mode is cfmakeraw's: no line editing, no
 * echo, no signals, no CR/NL translation, 8 bits through untouched; plus
 * CLOCAL so a modem dropping carrier does not hang up our descriptor, and
 * VMIN=1/VTIME=0 so poll reports a port readable as soon as one byte is in.
 */
import type { Arch } from '../../kernel/arch.js';
import type { Termios2 } from '../../kernel/structs.js';
import { baudConstants, termBits } from '../../kernel/termbits.js';
import type { LineSettings, Parity } from './options.js';

/** The speed bits of c_cflag for `baud`: its Bnnn constant, or BOTHER with the rate in c_ispeed/c_ospeed. */
export function speedBits(arch: Arch, baud: number): { cbaud: number; bother: boolean } {
  const b = baudConstants(arch).get(baud);
  return b === undefined ? { cbaud: termBits(arch).BOTHER, bother: true } : { cbaud: b, bother: false };
}

/** `base` (what the port had) turned into raw mode with `settings`. */
export function rawTermios(
  arch: Arch,
  base: Termios2,
  settings: LineSettings,
  cc: { readonly VMIN: number; readonly VTIME: number } = termBits(arch),
): Termios2 {
  const t = termBits(arch);
  const iflagOff = t.IGNBRK | t.BRKINT | t.PARMRK | t.ISTRIP | t.INLCR | t.IGNCR | t.ICRNL | t.IXON | t.IXOFF | t.IXANY | t.INPCK;
  // With parity on, let the driver check it: a byte with a parity error then reads as NUL.
  const iflag = (base.c_iflag & ~iflagOff) | (settings.parity === 'none' ? 0 : t.INPCK);
  const oflag = base.c_oflag & ~t.OPOST;
  const lflag = base.c_lflag & ~(t.ECHO | t.ECHOE | t.ECHOK | t.ECHONL | t.ICANON | t.ISIG | t.IEXTEN);

  const cflagOff = t.CBAUD | t.CIBAUD | t.CSIZE | t.CSTOPB | t.PARENB | t.PARODD | t.CMSPAR | t.CRTSCTS;
  let cflag = (base.c_cflag & ~cflagOff) | t.CREAD | t.CLOCAL;
  cflag |= [t.CS5, t.CS6, t.CS7, t.CS8][settings.dataBits - 5] ?? t.CS8;
  if (settings.stopBits === 2) cflag |= t.CSTOPB;
  cflag |= parityBits(arch, settings.parity);
  if (settings.rtscts) cflag |= t.CRTSCTS;
  const { cbaud } = speedBits(arch, settings.baud);
  // The input speed is stated too (CIBAUD), rather than left 0 for "same as output".
  cflag |= cbaud | (cbaud << t.IBSHIFT);

  const chars = [...base.c_cc];
  chars[cc.VMIN] = 1;
  chars[cc.VTIME] = 0;
  return {
    ...base,
    c_iflag: iflag >>> 0,
    c_oflag: oflag >>> 0,
    c_lflag: lflag >>> 0,
    c_cflag: cflag >>> 0,
    c_cc: chars,
    c_ispeed: settings.baud,
    c_ospeed: settings.baud,
  };
}

function parityBits(arch: Arch, parity: Parity): number {
  const t = termBits(arch);
  switch (parity) {
    case 'none':
      return 0;
    case 'even':
      return t.PARENB;
    case 'odd':
      return t.PARENB | t.PARODD;
    // Stick parity: CMSPAR with PARODD set is mark (always 1), without it space (always 0).
    case 'mark':
      return t.PARENB | t.CMSPAR | t.PARODD;
    case 'space':
      return t.PARENB | t.CMSPAR;
  }
}

/** What a termios says, as line settings (the speed the kernel reports in c_ospeed). */
export function settingsFromTermios(arch: Arch, tio: Termios2): LineSettings {
  const t = termBits(arch);
  const size = tio.c_cflag & t.CSIZE;
  const dataBits = size === t.CS5 ? 5 : size === t.CS6 ? 6 : size === t.CS7 ? 7 : 8;
  let parity: Parity = 'none';
  if (tio.c_cflag & t.PARENB) {
    const odd = (tio.c_cflag & t.PARODD) !== 0;
    parity = tio.c_cflag & t.CMSPAR ? (odd ? 'mark' : 'space') : odd ? 'odd' : 'even';
  }
  return {
    baud: tio.c_ospeed,
    dataBits,
    parity,
    stopBits: tio.c_cflag & t.CSTOPB ? 2 : 1,
    rtscts: (tio.c_cflag & t.CRTSCTS) !== 0,
  };
}
