/**
 * Starting a server from directories: load the base once, its fingerprint, the optional dataset and every
 * patch, then listen. With `watch`, changes in the patch directory trigger a reload (debounced).
 */
import { FSWatcher, statSync, watch } from 'node:fs';
import { FastifyInstance } from 'fastify';
import { Dataset, loadDataset } from '../data/dataset.js';
import { continualTasks, loadContinual } from '../continual/store.js';
import { DataError, ModelError } from '../errors.js';
import { ItemTextFile, withItemTextFile } from '../train/catalogue.js';
import { loadModelDir } from '../train/checkpoint.js';
import { TaskModel, baseFingerprint } from '../transfer/patchfile.js';
import { TaskRegistry } from './registry.js';
import { ServerOptions, buildServer } from './server.js';

export interface StartOptions extends Pick<ServerOptions, 'ignoreUnknownItems' | 'batchWaitMs' | 'maxBatch' | 'bodyLimit' | 'logger' | 'adminToken'> {
  model: string;
  /** A text table of items the text base scores besides its own (new items by their text), and its text columns. */
  itemText?: ItemTextFile | null;
  patches: string | null;
  /** A continual model grown from this base (continual/): its tasks are served beside the patches. */
  continual?: string | null;
  data: string | null;
  watch: boolean;
  /** With watch: how long the directory must stay quiet before a reload (default 200 ms). */
  watchDebounceMs?: number;
}

export interface StartedServer {
  app: FastifyInstance;
  registry: TaskRegistry;
  close: () => Promise<void>;
}

/** A continual model's tasks, refused unless it was grown from the served base (same items, same users' readings). */
async function continualTasksFor(dir: string, fingerprint: string, modelDir: string): Promise<TaskModel[]> {
  const m = await loadContinual(dir);
  if (m.manifest.baseFingerprint !== fingerprint) {
    throw new ModelError(`${dir}: this continual model was grown from another base than ${modelDir} (fingerprints differ); refusing to serve it beside it`);
  }
  return continualTasks(m);
}

export async function createServer(o: StartOptions): Promise<StartedServer> {
  if (o.patches !== null) {
    let isDir = false;
    try {
      isDir = statSync(o.patches).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new DataError(`${o.patches}: not a directory of task patches`);
  }
  const trained = await loadModelDir(o.model);
  const fingerprint = await baseFingerprint(o.model);
  const continual = o.continual ? await continualTasksFor(o.continual, fingerprint, o.model) : [];
  // Tasks load onto the base as trained; the base's own routes also score the items registered by text.
  const registry = new TaskRegistry(trained, fingerprint, o.patches, continual);
  const extended = o.itemText ? await withItemTextFile(trained, o.itemText, o.model) : null;
  const base = extended?.base ?? trained;
  const dataset: Dataset | null = o.data !== null ? await loadDataset(o.data) : null;
  const app = await buildServer({ ...o, base, taskItems: trained.items.length, registry, dataset, datasetName: o.data ?? '' });
  if (extended) app.log.info(`${extended.added.length} new items by their text from ${o.itemText!.file} (${extended.alreadyKnown} already in the model)`);
  const first = await registry.reload();
  for (const e of first.errors) app.log.warn(`skipping ${e.dir}: ${e.error}`);
  app.log.info(`base ${o.model} (${base.items.length} items); tasks: ${registry.list().map((t) => t.card.task).join(', ') || 'none'}`);

  let watcher: FSWatcher | null = null;
  let pending: NodeJS.Timeout | null = null;
  if (o.watch && o.patches !== null) {
    watcher = watch(o.patches, () => {
      if (pending) clearTimeout(pending);
      pending = setTimeout(() => {
        pending = null;
        registry.reload().then(
          (r) => app.log.info({ report: r }, 'patch directory changed: tasks reloaded'),
          (err: Error) => app.log.error({ err }, 'reloading tasks failed'),
        );
      }, o.watchDebounceMs ?? 200);
    });
  }
  return {
    app,
    registry,
    close: async () => {
      watcher?.close();
      // A change seen just before closing must not reload a closed server.
      if (pending) clearTimeout(pending);
      pending = null;
      await app.close();
    },
  };
}
