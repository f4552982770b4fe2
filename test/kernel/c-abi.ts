/**
 * Generates C that checks our catalogue and struct layouts against the kernel
 * headers: a program that prints the header values (native, -m32), or a file
 * of _Static_asserts for cross compilers (no need to run foreign code).
 */
import type { Arch } from '../../src/kernel/arch.js';
import { layoutOf, type StructDef } from '../../src/kernel/ctypes.js';
import { hex } from '../../src/kernel/ioc.js';
import { catalogue } from '../../src/kernel/requests.js';
import { ALL_STRUCTS } from '../../src/kernel/structs.js';
import { baudConstants, modemBits, TCFLUSH, termBits } from '../../src/kernel/termbits.js';
import { linuxOnlyErrnos } from '../../src/kernel/errno.js';
import { O, POLL } from '../../src/kernel/kernel.js';
import { gpioConstants } from '../../src/devices/gpio/uapi.js';
import { mtioConstants } from '../../src/devices/tape/mtio.js';

/**
 * Constants the product and the sim models share, as the C headers name them. With `host`, also
 * those that are this machine's only (the open(2) flags come from Node's build, the host's headers).
 */
export function constants(arch: Arch, host = false): Array<[string, number]> {
  const out: Array<[string, number]> = Object.entries(termBits(arch))
    // sparc's user header aliases VMIN/VTIME to VEOF/VEOL; the kernel's termios2 slots are ours.
    .filter(([k]) => !(arch.tty === 'sparc' && (k === 'VMIN' || k === 'VTIME')));
  for (const [k, v] of Object.entries(modemBits(arch))) out.push([`TIOCM_${k}`, v]);
  out.push(['TCIFLUSH', TCFLUSH.IN], ['TCOFLUSH', TCFLUSH.OUT], ['TCIOFLUSH', TCFLUSH.BOTH]);
  for (const [rate, value] of baudConstants(arch)) out.push([`B${rate}`, value]);
  // linux/gpio.h's flag, attribute and event numbers, which the gpio kind builds requests from.
  out.push(...gpioConstants());
  // linux/mtio.h: operations, status bits and mt_dsreg fields, which the tape kind and the st model both use.
  out.push(...mtioConstants());
  for (const [k, v] of Object.entries(POLL)) out.push([`POLL${k}`, v]);
  // The errnos Node does not know, with their per-architecture numbers.
  out.push(...linuxOnlyErrnos(arch.tty));
  if (host) for (const [k, v] of Object.entries(O)) out.push([`O_${k}`, v]);
  return out;
}

const HEADERS = `#include <stdio.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/ioctl.h>
#include <asm/termios.h>
#include <asm/ioctls.h>
#include <linux/serial.h>
#include <linux/mtio.h>
#include <linux/gpio.h>
`;

/** The C name of one of our structs on `arch` (powerpc's termios already is a termios2). */
export function cStructName(def: StructDef<object>, arch: Arch): string {
  if (def.name === 'termios2' && arch.tty === 'powerpc') return 'struct termios';
  return `struct ${def.name}`;
}

export function programPrintingHeaderValues(arch: Arch): string {
  const lines: string[] = [HEADERS, 'int main(void) {'];
  for (const r of catalogue(arch).all()) {
    lines.push(`  printf("R %s %lu\\n", "${r.name}", (unsigned long)(${r.name}));`);
  }
  for (const [name] of constants(arch, true)) lines.push(`  printf("C %s %lu\\n", "${name}", (unsigned long)(${name}));`);
  for (const def of ALL_STRUCTS) {
    const c = cStructName(def, arch);
    lines.push(`  printf("S %s %zu %zu\\n", "${def.name}", sizeof(${c}), _Alignof(${c}));`);
    for (const f of layoutOf(def, arch).fields) {
      lines.push(`  printf("O %s.%s %zu %zu\\n", "${def.name}", "${f.name}", offsetof(${c}, ${f.name}), sizeof(((${c} *)0)->${f.name}));`);
    }
  }
  lines.push('  return 0;', '}');
  return lines.join('\n');
}

/** What the TypeScript side says, in the program's output format, for comparison line by line. */
export function expectedLines(arch: Arch): string[] {
  const out: string[] = [];
  for (const r of catalogue(arch).all()) out.push(`R ${r.name} ${r.value}`);
  for (const [name, value] of constants(arch, true)) out.push(`C ${name} ${value >>> 0}`);
  for (const def of ALL_STRUCTS) {
    const l = layoutOf(def, arch);
    out.push(`S ${def.name} ${l.size} ${l.align}`);
    for (const f of l.fields) out.push(`O ${def.name}.${f.name} ${f.offset} ${f.size}`);
  }
  return out;
}

/** Compiles only if every value matches; each failing assert names the value we computed. */
export function staticAssertions(arch: Arch): string {
  const lines: string[] = [HEADERS];
  for (const r of catalogue(arch).all()) {
    lines.push(
      `_Static_assert((unsigned long)(${r.name}) == ${hex(r.value)}UL, "${r.name}: dev2mqtt says ${hex(r.value)} on ${arch.name}");`,
    );
  }
  for (const [name, value] of constants(arch)) {
    lines.push(`_Static_assert((unsigned long)(${name}) == ${hex(value)}UL, "${name}: dev2mqtt says ${hex(value)} on ${arch.name}");`);
  }
  for (const def of ALL_STRUCTS) {
    const c = cStructName(def, arch);
    const l = layoutOf(def, arch);
    lines.push(`_Static_assert(sizeof(${c}) == ${l.size}, "sizeof ${def.name}: dev2mqtt says ${l.size} on ${arch.name}");`);
    lines.push(`_Static_assert(_Alignof(${c}) == ${l.align}, "alignof ${def.name}: dev2mqtt says ${l.align} on ${arch.name}");`);
    for (const f of l.fields) {
      lines.push(
        `_Static_assert(offsetof(${c}, ${f.name}) == ${f.offset}, "offsetof ${def.name}.${f.name}: dev2mqtt says ${f.offset} on ${arch.name}");`,
      );
      lines.push(
        `_Static_assert(sizeof(((${c} *)0)->${f.name}) == ${f.size}, "sizeof ${def.name}.${f.name}: dev2mqtt says ${f.size} on ${arch.name}");`,
      );
    }
  }
  return lines.join('\n');
}
