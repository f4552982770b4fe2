/** The kinds that ship with dev2mqtt. Plug-ins add more at run time (config `plugins`). */
import type { AnyKind } from './kind.js';
import { gpioKind } from './gpio/kind.js';
import { ledKind } from './led/kind.js';
import { pwmKind } from './pwm/kind.js';
import { serialKind } from './serial/index.js';
import { tapeKind } from './tape/kind.js';

export function builtinKinds(): AnyKind[] {
  return [ledKind, gpioKind, serialKind, tapeKind, pwmKind];
}
