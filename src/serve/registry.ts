/**
 * The tasks a server answers: one base model loaded once, and every patch directory under `patchesDir` loaded
 * onto it as a task sharing the base's tensors. `reload()` rescans the directory: new patches are added, removed
 * ones dropped, changed ones (newer files) reloaded, and the task map is swapped in one assignment — requests
 * already holding a task keep using it until they finish, so nothing in flight is dropped.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoadedModel } from '../train/checkpoint.js';
import { TaskModel, loadPatchDir } from '../transfer/patchfile.js';

export interface ReloadReport {
  loaded: string[];
  reloaded: string[];
  removed: string[];
  /** Patch directories that could not be loaded (the previous version of the task, if any, stays). */
  errors: { dir: string; error: string }[];
}

interface Entry {
  task: TaskModel;
  /** Newest modification time of the patch's files when loaded. */
  version: number;
}

async function patchVersion(dir: string): Promise<number> {
  const times = await Promise.all(['task.json', 'patch.safetensors'].map(async (f) => (await stat(join(dir, f))).mtimeMs));
  return Math.max(...times);
}

export class TaskRegistry {
  private entries = new Map<string, Entry>();
  private reloading: Promise<ReloadReport> | null = null;

  constructor(
    readonly base: LoadedModel,
    readonly baseFingerprint: string,
    readonly patchesDir: string | null,
  ) {}

  get(task: string): TaskModel | undefined {
    return this.entries.get(task)?.task;
  }

  list(): TaskModel[] {
    return [...this.entries.values()].map((e) => e.task);
  }

  /** Rescans the patch directory; concurrent calls share one scan. */
  reload(): Promise<ReloadReport> {
    this.reloading ??= this.scan().finally(() => (this.reloading = null));
    return this.reloading;
  }

  private async scan(): Promise<ReloadReport> {
    const report: ReloadReport = { loaded: [], reloaded: [], removed: [], errors: [] };
    if (this.patchesDir === null) return report;
    const dirs = (await readdir(this.patchesDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && existsSync(join(this.patchesDir!, d.name, 'task.json')))
      .map((d) => join(this.patchesDir!, d.name))
      .sort();
    const next = new Map<string, Entry>();
    const byDir = new Map([...this.entries.values()].map((e) => [e.task.dir, e]));
    for (const dir of dirs) {
      try {
        const version = await patchVersion(dir);
        const old = byDir.get(dir);
        const entry = old && old.version === version ? old : { task: await loadPatchDir(dir, this.base, this.baseFingerprint), version };
        const name = entry.task.card.task;
        const clash = next.get(name);
        if (clash) throw new Error(`task name "${name}" is already served from ${clash.task.dir}`);
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
