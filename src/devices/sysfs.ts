/**
 * sysfs attributes through node:fs, the way the kernel wants them: one
 * read of the whole (small) file, and one write(2) per value on a file that
 * already exists. sysfs never creates files, so neither do we: a missing
 * attribute is ENOENT, as on the real tree. O_TRUNC is harmless on sysfs
 * and makes a fake tree in a temp dir hold exactly the last value written.
 *
 * The calls are synchronous on purpose, like the short ioctls: an LED or GPIO
 * attribute is answered from the driver's memory in microseconds, while each
 * async fs call costs a trip through the libuv thread pool (measured: the
 * promise-based version took most of an LED command's round trip).
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';

export async function readAttribute(file: string): Promise<string> {
  return readFileSync(file, 'utf8').trim();
}

export async function writeAttribute(file: string, value: string): Promise<void> {
  const fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC);
  try {
    // One write(2): a sysfs store() sees exactly one value per call.
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** A decimal attribute's value (`brightness`, `base`); anything else is an EINVAL error naming the file. */
export function decimal(text: string, file: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw Object.assign(new Error(`EINVAL: ${file} holds '${text.slice(0, 40)}', not a number`), {
      code: 'EINVAL',
      path: file,
      syscall: 'read',
    });
  }
  return n;
}

export async function readNumber(file: string): Promise<number> {
  return decimal(await readAttribute(file), file);
}
