/**
 * Where an LED's attributes live. The real one is `{sysfsRoot}/class/leds/NAME`
 * read and written with node:fs (Telegraf's injectable HOST_SYS: tests point
 * the root at a fake tree); the sim (sim.ts) is a model that keeps its own
 * sysfs-like tree and answers writes as the LED class driver does.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { readAttribute, writeAttribute } from '../sysfs.js';

export type LedAttribute = 'brightness' | 'max_brightness' | 'trigger' | 'delay_on' | 'delay_off';

export interface LedFiles {
  /** The LED's directory, for messages and `get`. */
  readonly dir: string;
  read(attr: LedAttribute): Promise<string>;
  write(attr: LedAttribute, value: string): Promise<void>;
  /** Resolves when the LED exists and its brightness may be written; rejects with ENOENT or EACCES. */
  probe(): Promise<void>;
  /** Releases what the files hold open (the sim's mirror), when the device closes. */
  close?(): void;
}

export function ledDir(sysfsRoot: string, name: string): string {
  return path.join(sysfsRoot, 'class', 'leds', name);
}

export class SysfsLedFiles implements LedFiles {
  constructor(readonly dir: string) {}

  read(attr: LedAttribute): Promise<string> {
    return readAttribute(path.join(this.dir, attr));
  }

  write(attr: LedAttribute, value: string): Promise<void> {
    return writeAttribute(path.join(this.dir, attr), value);
  }

  async probe(): Promise<void> {
    // W_OK on brightness is what a Pi without the udev rule lacks (EACCES).
    await access(path.join(this.dir, 'brightness'), constants.R_OK | constants.W_OK);
  }
}
