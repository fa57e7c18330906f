/**
 * Starting a server from directories: load the base once, its fingerprint, the optional dataset and every
 * patch, then listen. With `watch`, changes in the patch directory trigger a reload (debounced).
 */
import { FSWatcher, statSync, watch } from 'node:fs';
import { FastifyInstance } from 'fastify';
import { Dataset, loadDataset } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { loadModelDir } from '../train/checkpoint.js';
import { baseFingerprint } from '../transfer/patchfile.js';
import { TaskRegistry } from './registry.js';
import { ServerOptions, buildServer } from './server.js';

export interface StartOptions extends Pick<ServerOptions, 'ignoreUnknownItems' | 'batchWaitMs' | 'maxBatch' | 'bodyLimit' | 'logger' | 'adminToken'> {
  model: string;
  patches: string | null;
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
  const base = await loadModelDir(o.model);
  const registry = new TaskRegistry(base, await baseFingerprint(o.model), o.patches);
  const dataset: Dataset | null = o.data !== null ? await loadDataset(o.data) : null;
  const app = await buildServer({ ...o, base, registry, dataset, datasetName: o.data ?? '' });
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
