/**
 * Files for writeFile/readFile, confined to the configured directory. A name
 * is a relative path below it: absolute paths, `..` segments, and symbolic
 * links that lead out (a linked directory pointing elsewhere, or a link as
 * the file itself) are `forbidden`. Files are opened with O_NOFOLLOW after
 * their directory's real path is checked, and an existing file is only
 * overwritten when asked and when it is not a hard link to something else.
 */
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { makeDir } from '../../make-dir.js';
import { CommandError } from '../errors.js';

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root + path.sep);

function forbidden(name: string, why: string): CommandError {
  return new CommandError('forbidden', `'${name}' ${why}`, { name });
}

/** Checks the name's shape; returns its segments. */
function segments(name: string): string[] {
  if (name.includes('\0')) throw forbidden(name.replace(/\0/g, '\\0'), 'contains a NUL byte');
  if (path.isAbsolute(name)) throw forbidden(name, 'is absolute; names are relative to filesDir');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw forbidden(name, "contains '..'; names stay inside filesDir");
  if (!parts.length) throw new CommandError('bad_args', `'${name}' names no file`, { name });
  return parts;
}

async function rootOf(dir: string): Promise<string> {
  makeDir(dir);
  return fs.promises.realpath(dir);
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** The file to put on tape: must exist below `dir` and be a regular file. */
export async function openSource(dir: string, name: string): Promise<{ handle: FileHandle; size: number; path: string }> {
  const parts = segments(name);
  const root = await rootOf(dir);
  const parentPath = path.join(root, ...parts.slice(0, -1));
  let parent: string;
  try {
    parent = await fs.promises.realpath(parentPath);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') throw new CommandError('bad_args', `no file '${name}' in filesDir`, { name });
    throw e;
  }
  if (!inside(root, parent)) throw forbidden(name, 'leads out of filesDir through a symbolic link');
  const file = path.join(parent, parts[parts.length - 1] as string);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted here must not hang the open (it has no effect on regular files).
    handle = await open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    if (errnoOf(e) === 'ELOOP') throw forbidden(name, 'is a symbolic link');
    if (errnoOf(e) === 'ENOENT') throw new CommandError('bad_args', `no file '${name}' in filesDir`, { name });
    throw e;
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    throw new CommandError('bad_args', `'${name}' is not a regular file`, { name });
  }
  return { handle, size: st.size, path: file };
}

/** The file to fill from tape: created below `dir` (with its directories), replaced only with `overwrite`. */
export async function openDestination(dir: string, name: string, overwrite: boolean): Promise<{ handle: FileHandle; path: string }> {
  const parts = segments(name);
  const root = await rootOf(dir);
  let parent = root;
  for (const part of parts.slice(0, -1)) {
    const next = path.join(parent, part);
    try {
      await fs.promises.mkdir(next);
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
    parent = await fs.promises.realpath(next);
    if (!inside(root, parent)) throw forbidden(name, 'leads out of filesDir through a symbolic link');
  }
  const file = path.join(parent, parts[parts.length - 1] as string);
  const flags =
    fs.constants.O_WRONLY |
    fs.constants.O_CREAT |
    fs.constants.O_NOFOLLOW |
    fs.constants.O_NONBLOCK |
    (overwrite ? 0 : fs.constants.O_EXCL);
  let handle: FileHandle;
  try {
    handle = await open(file, flags, 0o644);
  } catch (e) {
    if (errnoOf(e) === 'ELOOP') throw forbidden(name, 'is a symbolic link');
    if (errnoOf(e) === 'ENXIO') throw new CommandError('bad_args', `'${name}' is not a regular file`, { name });
    if (errnoOf(e) === 'EEXIST') throw new CommandError('bad_args', `'${name}' exists; pass overwrite: true to replace it`, { name });
    throw e;
  }
  const st = await handle.stat();
  if (!st.isFile() || st.nlink > 1) {
    await handle.close();
    throw st.isFile()
      ? forbidden(name, 'is a hard link; it may be a file outside filesDir')
      : new CommandError('bad_args', `'${name}' is not a regular file`, { name });
  }
  await handle.truncate(0);
  return { handle, path: file };
}
