/**
 * Facts about the installed graftrec package itself: where its root is (the addon and package.json live there),
 * its version, and the git commit of the checkout it runs from, if any.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null | undefined;

/** The directory holding graftrec's package.json (searched upwards from this file), or null when there is none. */
export function packageRoot(): string | null {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return (root = null);
    dir = parent;
  }
  return (root = dir);
}

/** The version in graftrec's package.json. */
export function packageVersion(): string {
  const dir = packageRoot();
  if (dir === null) throw new Error('internal: cannot locate the graftrec package root');
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

let commit: string | null | undefined;
let dirty: boolean | null | undefined;

function git(args: string[], dir: string): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
}

/**
 * The commit checked out at the package root, or null: when the package is not a git checkout (an npm install),
 * or git is missing. Only the package's own repository counts: an install inside some other repository's tree
 * has no `.git` at its root, so that repository's commit is never reported.
 */
export function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  const dir = packageRoot();
  if (dir === null || !existsSync(join(dir, '.git'))) return (commit = null);
  try {
    const out = git(['rev-parse', 'HEAD'], dir).trim();
    return (commit = /^[0-9a-f]{40,64}$/.test(out) ? out : null);
  } catch {
    return (commit = null);
  }
}

/**
 * Whether tracked files of that checkout differ from its commit (the commit alone would then not say which code
 * ran), or null where gitCommit is null.
 */
export function gitDirty(): boolean | null {
  if (dirty !== undefined) return dirty;
  const dir = packageRoot();
  if (dir === null || gitCommit() === null) return (dirty = null);
  try {
    return (dirty = git(['status', '--porcelain', '--untracked-files=no'], dir).trim() !== '');
  } catch {
    return (dirty = null);
  }
}
