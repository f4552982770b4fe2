/** Kind name → kind. One registry per agent (no module-level singletons). */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type { AnyKind } from './kind.js';

const KIND_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export class KindRegistry {
  readonly #kinds = new Map<string, AnyKind>();

  constructor(kinds: Iterable<AnyKind> = []) {
    for (const k of kinds) this.add(k);
  }

  add(kind: AnyKind): void {
    if (!KIND_NAME.test(kind.kind)) throw new Error(`kind name '${kind.kind}' must match ${KIND_NAME.source}`);
    if (this.#kinds.has(kind.kind)) throw new Error(`kind '${kind.kind}' is registered twice`);
    this.#kinds.set(kind.kind, kind);
  }

  get(name: string): AnyKind | undefined {
    return this.#kinds.get(name);
  }

  names(): string[] {
    return [...this.#kinds.keys()];
  }

  /**
   * Loads plug-in modules: each exports `kind` (one) or `kinds` (several), or a
   * default export of either. Paths are relative to `baseDir` (the config file's folder).
   */
  async loadPlugins(modules: readonly string[], baseDir: string): Promise<void> {
    for (const spec of modules) {
      const target = spec.startsWith('.') || path.isAbsolute(spec) ? pathToFileURL(path.resolve(baseDir, spec)).href : spec;
      let mod: Record<string, unknown>;
      try {
        mod = (await import(target)) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`plugin '${spec}' could not be loaded: ${(e as Error).message}`, { cause: e });
      }
      const found = collectKinds(mod);
      if (!found.length) throw new Error(`plugin '${spec}' exports no device kind (export 'kind' or 'kinds')`);
      for (const k of found) this.add(k);
    }
  }
}

function isKind(v: unknown): v is AnyKind {
  return typeof v === 'object' && v !== null && typeof (v as AnyKind).kind === 'string' && typeof (v as AnyKind).create === 'function';
}

function collectKinds(mod: Record<string, unknown>): AnyKind[] {
  const out: AnyKind[] = [];
  const visit = (v: unknown): void => {
    if (isKind(v)) out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
  };
  visit(mod.kind);
  visit(mod.kinds);
  const d = mod.default;
  if (d && typeof d === 'object' && !isKind(d) && !Array.isArray(d)) {
    visit((d as Record<string, unknown>).kind);
    visit((d as Record<string, unknown>).kinds);
  } else {
    visit(d);
  }
  return out;
}
