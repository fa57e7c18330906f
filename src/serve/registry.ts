/**
 * The tasks a server answers: one base model loaded once, and every patch directory under `patchesDir` loaded
 * onto it as a task sharing the base's tensors. `reload()` rescans the directory: new patches are added, removed
 * ones dropped, changed ones reloaded, and the task map is swapped in one assignment — requests already holding a
 * task keep using it until they finish, so nothing in flight is dropped.
 *
 * A patch has changed when any of its files has another inode, size, modification or status-change time (in
 * nanoseconds): a copy that keeps the old mtime (`cp -p`, rsync) or a rewrite within the same second still
 * changes the status-change time, which no tool can set. Hidden directories (`.name.tmp-*`, where the atomic
 * writer stages a patch before renaming it into place) are not patches.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoadedModel } from '../train/checkpoint.js';
import { AnyTask, TaskModel, loadTaskDir } from '../transfer/patchfile.js';

export interface ReloadReport {
  loaded: string[];
  reloaded: string[];
  removed: string[];
  /** Patch directories that could not be loaded (the previous version of the task, if any, stays). */
  errors: { dir: string; error: string }[];
}

interface Entry {
  task: AnyTask;
  /** The identity of the patch's files when loaded (see patchVersion). */
  version: string;
}

/** Device, inode, size, mtime and ctime (ns) of every file of a patch: equal only if no file was replaced or written. */
async function patchVersion(dir: string): Promise<string> {
  const stats = await Promise.all(['task.json', 'patch.safetensors'].map((f) => stat(join(dir, f), { bigint: true })));
  return stats.map((s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`).join('/');
}

export class TaskRegistry {
  private entries = new Map<string, Entry>();
  /** The scan running now, and the one queued to run after it (shared by every reload() made meanwhile). */
  private running: Promise<ReloadReport> | null = null;
  private queued: Promise<ReloadReport> | null = null;

  /** Tasks loaded once at start and never rescanned: a continual model's tasks (continual/), beside the patches. */
  private readonly fixed: Map<string, TaskModel>;

  constructor(
    readonly base: LoadedModel,
    readonly baseFingerprint: string,
    readonly patchesDir: string | null,
    fixed: readonly TaskModel[] = [],
  ) {
    this.fixed = new Map(fixed.map((t) => [t.card.task, t]));
  }

  get(task: string): AnyTask | undefined {
    return this.fixed.get(task) ?? this.entries.get(task)?.task;
  }

  list(): AnyTask[] {
    return [...this.fixed.values(), ...[...this.entries.values()].map((e) => e.task)];
  }

  /**
   * Rescans the patch directory. A scan that is already running may have listed the directory before the
   * caller's change, so a call made meanwhile gets the next scan, which starts when that one ends (all such calls
   * share it).
   */
  reload(): Promise<ReloadReport> {
    if (!this.running) {
      this.running = this.scan().finally(() => (this.running = null));
      return this.running;
    }
    this.queued ??= this.running.then(() => undefined, () => undefined).then(() => {
      this.queued = null;
      return this.reload();
    });
    return this.queued;
  }

  private async scan(): Promise<ReloadReport> {
    const report: ReloadReport = { loaded: [], reloaded: [], removed: [], errors: [] };
    if (this.patchesDir === null) return report;
    const dirs = (await readdir(this.patchesDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.') && existsSync(join(this.patchesDir!, d.name, 'task.json')))
      .map((d) => join(this.patchesDir!, d.name))
      .sort();
    const next = new Map<string, Entry>();
    const byDir = new Map([...this.entries.values()].map((e) => [e.task.dir, e]));
    for (const dir of dirs) {
      try {
        const version = await patchVersion(dir);
        const old = byDir.get(dir);
        const entry = old && old.version === version ? old : { task: await loadTaskDir(dir, this.base, this.baseFingerprint), version };
        const name = entry.task.card.task;
        const clash = next.get(name)?.task ?? this.fixed.get(name);
        if (clash) throw new Error(`task name "${name}" is already served from ${clash.dir}`);
        next.set(name, entry);
        if (!old) report.loaded.push(name);
        else if (old !== entry) report.reloaded.push(name);
      } catch (err) {
        report.errors.push({ dir, error: (err as Error).message });
        const old = byDir.get(dir);
        if (old && !next.has(old.task.card.task)) next.set(old.task.card.task, old);
      }
    }
    for (const name of this.entries.keys()) if (!next.has(name)) report.removed.push(name);
    this.entries = next;
    return report;
  }
}
