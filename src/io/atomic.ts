/**
 * Atomic writes: everything goes to a temporary sibling first and is renamed into place, so a crash or a bad input
 * never leaves a half-written file or directory behind, and an existing good one survives until the new one is whole.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../errors.js';

function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Outputs are never replaced silently: an existing file at `path` stops the command unless the user asked (--force). */
export function refuseExistingFile(path: string, force: boolean): void {
  if (existsSync(path) && !force) throw new DataError(`${path}: already exists; pass --force to replace it`);
}

/** The same for an output directory: an existing non-empty one stops the command unless the user asked (--force). */
export function refuseNonEmptyDir(dir: string, force: boolean): void {
  if (!force && existsSync(dir) && readdirSync(dir).length > 0) {
    throw new DataError(`${dir}: already exists and is not empty; pass --force to replace it or choose another --out`);
  }
}

/** Bytes of every file under `dir` (what a directory costs on disk, its tree's metadata aside). */
export function directoryBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Builds a directory through `fill(tmpDir)` and then moves it to `path`. An existing directory at `path` is
 * replaced only after the new one is complete (it is moved aside, the new one renamed in, the old one removed).
 */
export async function writeDirAtomic(path: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const tmp = tempSibling(path);
  await mkdir(dirname(path), { recursive: true });
  await mkdir(tmp);
  try {
    await fill(tmp);
    if (existsSync(path)) {
      const old = tempSibling(path);
      await rename(path, old);
      await rename(tmp, path);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, path);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
