/**
 * koffi, loaded on first use. Importing it maps its native module (about
 * 6 MiB of RSS), which an agent whose devices are all sysfs ones (LEDs, PWM
 * channels) never needs: the kernel seam binds libc only when a device opens
 * a device node.
 */
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

let loaded: Koffi | undefined;

export function koffi(): Koffi {
  return (loaded ??= createRequire(import.meta.url)('koffi') as Koffi);
}
