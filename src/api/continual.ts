/**
 * Continual models (Conure) from code: growing one from a base, adding tasks, and loading its tasks to answer
 * like patch tasks ({@link predict}).
 */
import { AddTaskSummary, DEFAULT_FREE_START, DEFAULT_KEEP, DEFAULT_RETRAIN_EPOCHS, FREE_STARTS, InitSummary, addContinualTask, initContinual } from '../continual/learn.js';
import { continualTasks, loadContinual } from '../continual/store.js';
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { Model, ModelRef, resolveModel } from './model.js';
import { parseOptions } from './options.js';
import { ProgressCallback, progressTo } from './progress.js';
import { FinetuneSchema, Task, taskSpecOf, tuningOf } from './task.js';

export interface ContinualInitOptions {
  /** Pretrained base model directory. */
  model: string;
  /** Its pretraining dataset. */
  data: string;
  out: string;
  force?: boolean;
  /** Share of each block weight matrix the pretraining task keeps (default 0.3). */
  keep?: number;
  /** Next-item epochs after pruning (default 2). */
  retrainEpochs?: number;
  task?: string;
  seed?: number;
  onProgress?: ProgressCallback;
}

/** Makes a pretrained base the first task of a continual model at `out` (see `graftrec continual init`). */
export async function continualInit(o: ContinualInitOptions): Promise<InitSummary> {
  return initContinual({
    model: o.model, data: o.data, out: o.out, force: o.force ?? false, keep: o.keep ?? DEFAULT_KEEP, retrainEpochs: o.retrainEpochs ?? DEFAULT_RETRAIN_EPOCHS,
    task: o.task ?? 'next-item', seed: o.seed ?? 1, progress: progressTo(o.onProgress),
  });
}

const ContinualAddSchema = FinetuneSchema.omit({ model: true, out: true, force: true, strategy: true, insertion: true, patchDim: true, zeroInitUp: true })
  .extend({
    /** The continual model directory (rewritten as a whole with the new task). */
    continual: z.string().min(1),
    keep: z.number().gt(0).lt(1).default(DEFAULT_KEEP),
    retrainEpochs: z.number().int().min(0).default(DEFAULT_RETRAIN_EPOCHS),
    /** Where the task's free weights start: 'fresh' (default) or 'zero' (see FREE_STARTS). */
    freeStart: z.enum(FREE_STARTS).default(DEFAULT_FREE_START),
  });

/** The task options of {@link finetune}, with the continual model in place of the base and the patch directory. */
export type ContinualAddOptions = z.input<typeof ContinualAddSchema> & { onProgress?: ProgressCallback };

/** Learns one more classify or recommend task into a continual model; earlier tasks answer as before. */
export async function continualAdd(options: ContinualAddOptions): Promise<AddTaskSummary> {
  const { onProgress, ...rest } = options;
  const o = parseOptions(ContinualAddSchema, rest, 'continualAdd');
  const spec = taskSpecOf(o, { prefix: 'continualAdd: ', type: 'type', label: 'label', sourceDomain: 'sourceDomain', targetDomain: 'targetDomain', newItems: 'newItems' });
  if (spec.type === 'next-item') throw new ModelError('continualAdd: a next-item task is the continual model\'s first task; add classify or recommend tasks');
  return addContinualTask({
    continual: o.continual, data: o.data, task: o.task, spec, keep: o.keep, retrainEpochs: o.retrainEpochs, freeStart: o.freeStart, seed: o.seed, tuning: tuningOf(o),
    progress: progressTo(onProgress),
  });
}

/**
 * The tasks of a continual model grown from `base`, each answering {@link predict} like a patch task.
 *
 * @throws ModelError when the continual model was grown from another base, or its files are damaged.
 */
export async function loadContinualTasks(dir: string, base: ModelRef): Promise<Task[]> {
  const model: Model = await resolveModel(base);
  const m = await loadContinual(dir);
  if (m.manifest.baseFingerprint !== model.fingerprint) {
    throw new ModelError(`${dir}: this continual model was grown from another base than ${model.dir} (fingerprints differ)`);
  }
  return (await continualTasks(m)).map((t) => ({ ...t, base: model }));
}
