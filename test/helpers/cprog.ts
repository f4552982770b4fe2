/**
 * Small C programs compiled at test time, to see the kernel through C's eyes:
 * with gcc natively, with the ABI's cross compiler under the emulated-ABI job.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nativeCC, spawnNativeSync } from './native.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-cprog-'));
const built = new Map<string, string>();

export function compileC(name: string, source: string, flags: string[] = []): string {
  const hit = built.get(name);
  if (hit) return hit;
  const src = path.join(dir, `${name}.c`);
  const exe = path.join(dir, name);
  writeFileSync(src, source);
  const r = spawnSync(nativeCC, ['-std=gnu11', '-O2', '-Wall', '-o', exe, src, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${nativeCC} ${name}: ${r.stderr}`);
  built.set(name, exe);
  return exe;
}

/** Prints "ispeed ospeed cbaud-bits" of a tty as TCGETS2 reports them (stty of glibc < 2.42 cannot show BOTHER speeds). */
export const TERMIOS2_SPEED_C = `
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) { perror("open"); return 1; }
  struct termios2 t;
  if (ioctl(fd, TCGETS2, &t) < 0) { perror("TCGETS2"); return 1; }
  printf("%u %u %s\\n", t.c_ispeed, t.c_ospeed, (t.c_cflag & CBAUD) == BOTHER ? "BOTHER" : "Bnnn");
  close(fd);
  return 0;
}
`;

export function termios2Speed(ttyPath: string): string {
  const exe = compileC('termios2-speed', TERMIOS2_SPEED_C);
  const r = spawnNativeSync(exe, [ttyPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`termios2-speed: ${r.stderr}`);
  return r.stdout.trim();
}
