// ns per ioctl(TCGETS) on a pty through the core, next to the same loop in C
// compiled now with gcc -O2. Target: core <= 1.5x C.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './brokers.mjs';
import { atMost, flags, printRows, row } from './lib.mjs';
import { LibcKernel } from '../dist/kernel/libc.js';
import { openPty } from '../dist/kernel/pty.js';
import { catalogue } from '../dist/kernel/requests.js';
import { alloc } from '../dist/kernel/codec.js';
import { termios } from '../dist/kernel/structs.js';
import { O } from '../dist/kernel/kernel.js';

const C_LOOP = `
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
int main(int argc, char **argv) {
  long n = atol(argv[2]), rounds = atol(argv[3]);
  int fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) { perror("open"); return 1; }
  struct termios t;
  double best = 1e18;
  for (long r = 0; r < rounds; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) if (ioctl(fd, TCGETS, &t) < 0) { perror("TCGETS"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    if (ns < best) best = ns;
  }
  printf("%.2f\\n", best);
  return 0;
}`;

export async function runIoctlBench() {
  const n = flags.quick ? 100_000 : 1_000_000;
  const rounds = flags.quick ? 3 : 7;
  const dir = tempDir('dev2mqtt-bench-');
  writeFileSync(path.join(dir, 'loop.c'), C_LOOP);
  const cc = spawnSync('gcc', ['-O2', '-o', path.join(dir, 'loop'), path.join(dir, 'loop.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);

  const kernel = new LibcKernel();
  const { master, slavePath } = openPty(kernel);
  const tty = kernel.open(slavePath, O.RDWR | O.NOCTTY | O.NONBLOCK);
  const req = catalogue(kernel.arch).get('TCGETS');
  const buf = alloc(termios, kernel.arch);

  for (let i = 0; i < 50_000; i++) tty.ioctl(req, buf); // let V8 optimise the call path
  let coreNs = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) tty.ioctl(req, buf);
    const ns = Number(process.hrtime.bigint() - t0) / n;
    coreNs = Math.min(coreNs, ns);
  }
  const c = spawnSync(path.join(dir, 'loop'), [slavePath, String(n), String(rounds)], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`C loop: ${c.stderr}`);
  const cNs = Number(c.stdout.trim());
  tty.close();
  master.close();
  return [
    row('ioctl', 'core ns/call (TCGETS, pty)', coreNs, 'ns'),
    row('ioctl', 'C ns/call (same loop, gcc -O2)', cNs, 'ns'),
    row('ioctl', 'core / C', coreNs / cNs, 'x', atMost(1.5, 'x')),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runIoctlBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'ioctl core vs C' });
}
