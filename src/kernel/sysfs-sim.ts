/**
 * A sysfs (or procfs) tree in memory, for sim devices and tests: directories,
 * symlinks, and attributes whose show()/store() are functions, so a driver
 * model answers a write the way the kernel does — `export` creating `pwmN/`,
 * LED `trigger` creating `delay_on`, EINVAL for a value out of range. What
 * kernfs itself does is done here for every model:
 *  - an attribute without show() (0200, `export`) cannot be opened for
 *    reading, one without store() (0444, `npwm`) not for writing: EACCES,
 *    root or not (kernfs_fop_open);
 *  - a missing path is ENOENT at open; a directory is EISDIR;
 *  - a read or write in flight when its device goes away (remove, unplug)
 *    ends in ENODEV, as kernfs answers for a deactivated node;
 *  - show() may take its time (a 1-wire conversion): the read waits for it
 *    on timers, never on the event loop.
 * A recorded tree from disk (sysfs-recorded.ts, test/fixtures) becomes plain
 * attributes holding the recorded text, writable where the file was; a model
 * may then take over some of them. Loaded only where a sim or a test asks.
 */
import { KernelError, type Syscall } from './errors.js';
import { joinPath, naturally, Sysfs, type SysfsEntry } from './sysfs.js';

/** What a model's show()/store() throws to fail the call with that errno (`throw new SimErrno('EINVAL')`). */
export class SimErrno extends Error {
  constructor(readonly errno: string) {
    super(errno);
  }
}

export interface AttrSpec {
  show?(): string | Promise<string>;
  store?(value: string): void | Promise<void>;
}

interface Attr extends AttrSpec {
  readonly type: 'attr';
  gone: boolean;
  /** A plain attribute's text (files of a recorded tree), changed in place by `set`. */
  plain?: { text: string };
}
interface Dir {
  readonly type: 'dir';
  readonly children: Map<string, Node>;
  gone: boolean;
}
interface Link {
  readonly type: 'link';
  readonly target: string;
  gone: boolean;
}
type Node = Attr | Dir | Link;

const newDir = (): Dir => ({ type: 'dir', children: new Map(), gone: false });
const MAX_LINKS = 40;

/** The text a store() got, as kstrto*() and sysfs_streq() read it: one trailing newline is allowed. */
export function storedText(value: string): string {
  return value.endsWith('\n') ? value.slice(0, -1) : value;
}

/** kstrtoul(buf, 10): an unsigned decimal, else the store fails with EINVAL. */
export function storedUnsigned(value: string): number {
  const t = storedText(value);
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new SimErrno('EINVAL');
  return Number(t);
}

export class SimSysfs extends Sysfs {
  readonly root: string;
  readonly #top = newDir();
  readonly #unplugged = new Map<string, { node: Node; at: string }>();
  readonly #denied = new Map<string, string>();

  constructor(root = '/sys') {
    super();
    this.root = root;
  }

  // ---- building the tree (models, tests) ------------------------------------

  mkdir(rel: string): void {
    this.#dirAt(split(rel), true);
  }

  /** An attribute driven by a model (replaces whatever was at `rel`). */
  attr(rel: string, spec: AttrSpec): void {
    this.#put(rel, { type: 'attr', gone: false, ...spec });
  }

  /** A plain attribute holding `text`; writable ones keep what is written (as a recorded file would). */
  file(rel: string, text: string, writable = false): void {
    const plain = { text };
    this.#put(rel, {
      type: 'attr',
      gone: false,
      plain,
      show: () => plain.text,
      ...(writable ? { store: (v: string) => void (plain.text = v) } : {}),
    });
  }

  link(rel: string, target: string): void {
    this.#put(rel, { type: 'link', target, gone: false });
  }

  /** The outside world changes a plain attribute (a sensor's reading moves); reads in flight are not disturbed. */
  set(rel: string, text: string): void {
    const found = this.#lookup(rel)?.node;
    if (found?.type === 'attr' && found.plain) found.plain.text = text;
    else this.file(rel, text);
  }

  /** The device goes away for good: what was at `rel` (links followed) disappears; calls in flight end in ENODEV. */
  remove(rel: string): void {
    this.#detach(rel);
  }

  /** The device is unplugged: it disappears until `replug`, which puts back the same model with its state. */
  unplug(rel: string): void {
    const found = this.#detach(rel);
    if (found) this.#unplugged.set(rel, found);
  }

  replug(rel: string): void {
    const found = this.#unplugged.get(rel);
    if (!found) return;
    this.#unplugged.delete(rel);
    revive(found.node);
    this.#put(found.at, found.node);
  }

  /** From now on opening `rel` fails with `errno` (EACCES: a Pi without the udev rule); undefined lifts it. */
  deny(rel: string, errno: string | undefined): void {
    if (errno) this.#denied.set(split(rel).join('/'), errno);
    else this.#denied.delete(split(rel).join('/'));
  }

  // ---- the Sysfs side: what kinds see ------------------------------------------

  async read(rel: string): Promise<string> {
    const attr = this.#openAttr(rel, 'read');
    if (!attr.show) throw this.#error('EACCES', 'open', rel);
    const text = await this.#call(rel, 'read', attr, () => attr.show?.() ?? '');
    return text;
  }

  async write(rel: string, value: string): Promise<void> {
    const attr = this.#openAttr(rel, 'write');
    if (!attr.store) throw this.#error('EACCES', 'open', rel);
    await this.#call(rel, 'write', attr, () => attr.store?.(value));
  }

  async list(rel: string): Promise<string[]> {
    const found = this.#lookup(rel);
    if (!found) throw this.#error('ENOENT', 'open', rel);
    if (found.node.type !== 'dir') throw this.#error('ENOTDIR', 'open', rel);
    return [...found.node.children.keys()].sort(naturally);
  }

  async entry(rel: string): Promise<SysfsEntry | undefined> {
    const found = this.#lookup(rel);
    if (!found) return undefined;
    return found.node.type === 'dir' ? 'dir' : 'file';
  }

  async readlink(rel: string): Promise<string> {
    const found = this.#lookup(rel, false);
    if (!found) throw this.#error('ENOENT', 'open', rel);
    if (found.node.type !== 'link') throw this.#error('EINVAL', 'open', rel);
    return found.node.target;
  }

  async access(rel: string, mode: 'read' | 'write'): Promise<void> {
    const attr = this.#openAttr(rel, mode);
    if (mode === 'read' ? !attr.show : !attr.store) throw this.#error('EACCES', 'open', rel);
  }

  async realpath(rel: string): Promise<string> {
    const found = this.#lookup(rel);
    if (!found) throw this.#error('ENOENT', 'open', rel);
    return joinPath(this.root, found.parts.join('/'));
  }

  // ---- internals -----------------------------------------------------------------

  #openAttr(rel: string, why: 'read' | 'write'): Attr {
    const found = this.#lookup(rel);
    if (!found) throw this.#error('ENOENT', 'open', rel);
    const denied = this.#denied.get(found.parts.join('/')) ?? this.#denied.get(split(rel).join('/'));
    if (denied) throw this.#error(denied, 'open', rel);
    if (found.node.type === 'dir') throw this.#error('EISDIR', why === 'read' ? 'read' : 'open', rel);
    return found.node as Attr;
  }

  async #call<T>(rel: string, syscall: Syscall, attr: Attr, work: () => T | Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await work();
    } catch (e) {
      if (e instanceof SimErrno) throw this.#error(e.errno, syscall, rel);
      throw e;
    }
    if (attr.gone) throw this.#error('ENODEV', syscall, rel);
    return out;
  }

  #error(errno: string, syscall: Syscall, rel: string): KernelError {
    return KernelError.of(errno, { syscall, path: this.path(rel) });
  }

  /** The node at `rel` and its canonical path (links resolved; the last one only when `follow`). */
  #lookup(rel: string, follow = true): { node: Node; parts: string[] } | undefined {
    return this.#walk(split(rel), follow, 0);
  }

  #walk(parts: readonly string[], follow: boolean, depth: number): { node: Node; parts: string[] } | undefined {
    if (depth > MAX_LINKS) return undefined;
    const stack: string[] = [];
    let node: Node = this.#top;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i] as string;
      if (name === '..') {
        stack.pop();
        node = this.#walk(stack, true, depth)?.node ?? this.#top;
        continue;
      }
      if (node.type !== 'dir') return undefined;
      const child = node.children.get(name);
      if (!child) return undefined;
      if (child.type === 'link' && (follow || i < parts.length - 1)) {
        const target = child.target.startsWith('/') ? split(child.target) : [...stack, ...child.target.split('/').filter(Boolean)];
        return this.#walk([...target, ...parts.slice(i + 1)], follow, depth + 1);
      }
      stack.push(name);
      node = child;
    }
    return { node, parts: stack };
  }

  /** The directory at `parts`, links followed, made on the way when `create`. */
  #dirAt(parts: readonly string[], create: boolean): Dir | undefined {
    let dir = this.#top;
    let trail: string[] = [];
    for (const name of parts) {
      let next = dir.children.get(name);
      let nextTrail = [...trail, name];
      if (!next && create) dir.children.set(name, (next = newDir()));
      if (next?.type === 'link') {
        const hit = this.#walk(nextTrail, true, 0);
        next = hit?.node;
        nextTrail = hit?.parts ?? nextTrail;
      }
      if (next?.type !== 'dir') return undefined;
      dir = next;
      trail = nextTrail;
    }
    return dir;
  }

  #put(rel: string, node: Node): void {
    const parts = split(rel);
    const name = parts.pop();
    if (!name) throw new Error(`sim sysfs: '${rel}' names no entry`);
    const dir = this.#dirAt(parts, true);
    if (!dir) throw new Error(`sim sysfs: the parent of '${rel}' is not a directory`);
    const before = dir.children.get(name);
    if (before && before !== node) bury(before);
    dir.children.set(name, node);
  }

  #detach(rel: string): { node: Node; at: string } | undefined {
    const found = this.#lookup(rel);
    if (!found) return undefined;
    const name = found.parts.at(-1);
    const dir = this.#dirAt(found.parts.slice(0, -1), false);
    if (!dir || name === undefined) return undefined;
    dir.children.delete(name);
    bury(found.node);
    return { node: found.node, at: found.parts.join('/') };
  }
}

function split(rel: string): string[] {
  return rel.split('/').filter((p) => p && p !== '.');
}

/** Marks a subtree gone, so calls in flight on it end in ENODEV. */
function bury(node: Node): void {
  node.gone = true;
  if (node.type === 'dir') for (const child of node.children.values()) bury(child);
}

function revive(node: Node): void {
  node.gone = false;
  if (node.type === 'dir') for (const child of node.children.values()) revive(child);
}
