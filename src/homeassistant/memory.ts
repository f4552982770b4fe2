/**
 * What this agent has put under the discovery prefix, remembered in
 * node.stateDir so the next run can take back what it no longer publishes:
 * configs of devices gone from the config, entities gone from a device (HA
 * needs those named to remove them), and — once, on upgrade — the first
 * scheme's topics. Written only when that set changes, never per publish.
 *
 * Version 2: `{"version": 2, "published": {topic: {key: platform}}}`.
 * Version 1 (the first scheme): `{"published": [topic, …]}`; reading one means
 * the upgrade's clearing has not happened yet.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { makeDir } from '../make-dir.js';
import type { HaComponent } from './entities.js';

export type Published = ReadonlyMap<string, Readonly<Record<string, HaComponent>>>;

export interface Memory {
  /** Whether the first scheme's topics have been taken back (a version 2 file). */
  readonly migrated: boolean;
  readonly published: Published;
}

export const MEMORY_FILE = 'homeassistant-discovery.json';

export function readMemory(file: string, log: Logger): Memory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { migrated: false, published: new Map() };
  }
  try {
    const v = JSON.parse(text) as { version?: unknown; published?: unknown };
    if (Array.isArray(v.published)) {
      return { migrated: false, published: new Map(v.published.filter((x): x is string => typeof x === 'string').map((t) => [t, {}])) };
    }
    const published = new Map<string, Record<string, HaComponent>>();
    if (v.published && typeof v.published === 'object') {
      for (const [topic, components] of Object.entries(v.published as Record<string, unknown>)) {
        published.set(topic, components && typeof components === 'object' ? (components as Record<string, HaComponent>) : {});
      }
    }
    return { migrated: v.version === 2, published };
  } catch {
    log.warn({ file }, 'unreadable list of published discovery configs; stale ones cannot be cleared');
    return { migrated: false, published: new Map() };
  }
}

export function writeMemory(file: string, published: Published): void {
  makeDir(path.dirname(file));
  const sorted = Object.fromEntries([...published.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: 2, published: sorted }, null, 1)}\n`);
  renameSync(tmp, file);
}

export function samePublished(a: Published, b: Published): boolean {
  if (a.size !== b.size) return false;
  for (const [topic, components] of a) {
    const other = b.get(topic);
    if (!other || JSON.stringify(Object.entries(components).sort()) !== JSON.stringify(Object.entries(other).sort())) return false;
  }
  return true;
}
