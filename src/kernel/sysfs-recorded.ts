/**
 * A recorded tree — a copy of part of a real /sys or /proc, as test/fixtures
 * keeps them — served by the sim sysfs: files become plain attributes with
 * the recorded text, writable where the owner could write the file; symlinks
 * stay links. A test (or a model) may then change values over time (set) or
 * take attributes over.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { SimSysfs } from './sysfs-sim.js';

export async function loadTree(dir: string, root = '/sys'): Promise<SimSysfs> {
  const tree = new SimSysfs(root);
  const visit = async (abs: string, rel: string): Promise<void> => {
    for (const name of await readdir(abs)) {
      const file = path.join(abs, name);
      const at = rel ? `${rel}/${name}` : name;
      const st = await lstat(file);
      if (st.isSymbolicLink()) tree.link(at, await readlink(file));
      else if (st.isDirectory()) {
        tree.mkdir(at);
        await visit(file, at);
      } else tree.file(at, await readFile(file, 'utf8'), (st.mode & 0o200) !== 0);
    }
  };
  await visit(dir, '');
  return tree;
}
