/**
 * Conure (Yuan et al., SIGIR 2021): one network learns task after task without forgetting.
 *
 *   init  the pretrained base is task 1: each block weight matrix keeps its `keep` share of entries of largest
 *         magnitude (the rest become free, zero), the network is briefly retrained on next items with the free
 *         entries held at zero, and task 1's entries are frozen from then on.
 *   add   a new task re-initialises the free entries (as a fresh network of the same shape would start them),
 *         trains them with a new head and its own LayerNorms and biases while reading every earlier task's
 *         frozen entries; then keeps `keep` of the free entries it used (largest magnitude), retrains briefly with
 *         the rest at zero, and freezes its share.
 *
 * Task t computes with the entries of tasks 1..t only (store.ts weightsForTask), and no later task changes one
 * of them, so an earlier task's answers stay bit-identical however many tasks follow.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { TrainConfig } from '../config/schema.js';
import { epochBatches } from '../data/batch-plan.js';
import { HeldOut, LeaveOneOutSplit, itemCounts, leaveOneOutSplit } from '../data/split.js';
import { DataError, ModelError } from '../errors.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { directoryBytes, refuseNonEmptyDir } from '../io/atomic.js';
import { UserEncoder } from '../models/encoder.js';
import { createEncoder, itemSideOf } from '../models/encoders.js';
import { Adam, Parameter, Rng, noteParameterWrite } from '../tensor/index.js';
import { LoadedModel, loadDatasetFor, loadModelDir, parameterTensors } from '../train/checkpoint.js';
import { augmentRng, lossTerms, objectiveWindows, softmaxOptions } from '../train/objectives.js';
import { Progress } from '../train/progress.js';
import { collectProvenance } from '../train/provenance.js';
import { trainingStep } from '../train/step.js';
import { baseFingerprint, writePatchDir } from '../transfer/patchfile.js';
import { defaultLearningRate } from '../transfer/strategies.js';
import { TransferOptions } from '../transfer/task.js';
import { loadTaskDataset } from '../transfer/task-dataset.js';
import { TaskBaselines, TaskResult, TaskSpec, headline, runTask, runTaskBaselines, taskCardFor, validationHeadline } from '../transfer/tasks.js';
import { EntryPins, MAX_TASKS, Owners, largestFree, ownedBy, prunableParameters, taskOwnParameters } from './owners.js';
import { CONTINUAL_FORMAT, ContinualManifest, ContinualTaskEntry, loadContinual, taskDir, writeContinual } from './store.js';

/** The share of free entries a task keeps unless told otherwise (the and the paper's order of magnitude). */
export const DEFAULT_KEEP = 0.3;

/** Epochs of retraining after each pruning unless told otherwise (the best on validation is kept). */
export const DEFAULT_RETRAIN_EPOCHS = 2;

/**
 * Where a new task's free entries start. 'fresh': where a fresh network of the same shape would (the issue's
 * re-initialisation); 'zero': at zero, where pruning left them, so the task starts from exactly what the earlier
 * tasks' network computes and grows from it (PackNet's release of pruned weights).
 */
export const FREE_STARTS = ['fresh', 'zero'] as const;
export type FreeStart = (typeof FREE_STARTS)[number];
export const DEFAULT_FREE_START: FreeStart = 'fresh';

export function checkKeep(keep: number): void {
  if (!(keep > 0 && keep < 1)) throw new DataError(`--keep must be a fraction in (0, 1), got ${keep}`);
}

/**
 * Marks task `task`'s share: of p's free entries (owner 0), the `keep` share of largest magnitude become the
 * task's, the others are set to zero. Returns the 0/1 flags of the task's entries (what it may still train).
 */
function claimLargest(p: Parameter, owners: Uint8Array, keep: number, task: number): Uint8Array {
  const chosen = largestFree(p.data, owners, keep);
  for (let i = 0; i < owners.length; i++) {
    if (owners[i] !== 0) continue;
    if (chosen[i]) owners[i] = task;
    else p.data[i] = 0;
  }
  return chosen;
}

/** HR@10 / NDCG@10 / MRR@10 of the network's own next-item softmax on held-out items (full ranking). */
function nextItemMetrics(model: UserEncoder, heldOut: HeldOut, counts: Float64Array): Record<string, number> {
  return evaluateNextItem(model, heldOut, counts, { ks: [10], maskHistory: false, withPopularity: false }).metrics;
}

/**
 * Next-item training of every parameter with `pins` put back after each step, for `epochs` epochs; keeps the epoch
 * (0 = the start) with the best validation NDCG@10. Returns that epoch.
 */
function retrainNextItem(model: UserEncoder, split: LeaveOneOutSplit, counts: Float64Array, train: TrainConfig, epochs: number,
  pins: EntryPins, seed: number, progress: Progress): number {
  const objective = model.config.objective;
  const { windows, lengths } = objectiveWindows(split.train, objective, model.config.maxLen);
  // The network's own sequence objective only: what its output table scores.
  const terms = lossTerms(objective, model, null, { ...train, heldOut: { ...train.heldOut, weight: 0 } }, softmaxOptions(train, counts), augmentRng(seed));
  const params = model.parameters();
  model.setTrainable(true);
  const optimizer = new Adam(params, { lr: train.lr, weightDecay: train.weightDecay, decoupled: true });
  const rng = new Rng(seed + 1);
  const validate = () => nextItemMetrics(model, split.valid, counts)['NDCG@10']!;
  let best = validate();
  let bestEpoch = 0;
  let bestValues = params.map((p) => Float32Array.from(p.data));
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const batches = epochBatches(lengths, { batch: train.batch, tokens: train.batchTokens, lengthBuckets: train.lengthBuckets }, rng);
    progress.start(`retrain ${epoch}/${epochs}`, batches.length);
    let lossSum = 0;
    let itemSum = 0;
    const epochStarted = process.hrtime.bigint();
    for (let b = 0; b < batches.length; b++) {
      const chosen = Array.from(batches[b]!, (i) => windows[i]!);
      model.startTrainingStep(optimizer.steps);
      const r = trainingStep(terms.map((t) => t.prepare(chosen, rng)), optimizer, { clipNorm: train.clipNorm });
      pins.restore();
      lossSum += r.loss;
      itemSum += r.terms[0]!.count;
      const seconds = Number(process.hrtime.bigint() - epochStarted) / 1e9;
      progress.update(b + 1, { loss: lossSum / (b + 1), itemsPerSec: itemSum / Math.max(seconds, 1e-9) });
    }
    progress.stop();
    const score = validate();
    if (score > best) {
      best = score;
      bestEpoch = epoch;
      bestValues = params.map((p) => Float32Array.from(p.data));
    }
  }
  params.forEach((p, i) => p.data.set(bestValues[i]!));
  noteParameterWrite();
  model.setTrainable(false);
  return bestEpoch;
}

export interface InitOptions {
  /** The pretrained base model directory. */
  model: string;
  /** Its pretraining dataset (the same item vocabulary). */
  data: string;
  out: string;
  force: boolean;
  keep: number;
  /** Epochs of next-item retraining after pruning (the best by validation NDCG@10 is kept; 0 = none). */
  retrainEpochs: number;
  /** Name of the pretraining task (default `next-item`). */
  task: string;
  seed: number;
  progress: Progress;
}

export interface InitSummary {
  out: string;
  task: string;
  keep: number;
  owned: number;
  free: number;
  /** Full-ranking test metrics of the base before pruning, right after pruning, and after the retraining. */
  test: { unpruned: Record<string, number>; pruned: Record<string, number>; retrained: Record<string, number> };
  retrainedEpoch: number;
  trainSeconds: number;
}

/** Creates a continual model from a pretrained base: the base's next-item task becomes task 1. */
export async function initContinual(o: InitOptions): Promise<InitSummary> {
  checkKeep(o.keep);
  refuseNonEmptyDir(o.out, o.force);
  const started = process.hrtime.bigint();
  const base = await loadModelDir(o.model);
  const ds = await loadDatasetFor(base.config, o.model, o.data);
  const split = leaveOneOutSplit(ds);
  const counts = itemCounts(split.train, base.config.model.numItems);
  const { model } = base;
  const unpruned = nextItemMetrics(model, split.test, counts);
  const owners: Owners = new Map();
  const pins = new EntryPins();
  for (const p of prunableParameters(model)) {
    const own = new Uint8Array(p.size);
    pins.add(p, claimLargest(p, own, o.keep, 1));
    owners.set(p.name, own);
  }
  noteParameterWrite();
  const pruned = nextItemMetrics(model, split.test, counts);
  const retrainedEpoch = retrainNextItem(model, split, counts, base.config.train, o.retrainEpochs, pins, o.seed, o.progress);
  const retrained = nextItemMetrics(model, split.test, counts);
  const owned = ownedBy(owners, 1);
  const free = ownedBy(owners, 0);
  const entry: ContinualTaskEntry = { name: o.task, type: 'next-item', keep: o.keep, owned, freeAfter: free, test: { unpruned, pruned, retrained } };
  const provenance = await collectProvenance({
    seed: o.seed, dataset: o.data, config: { model: o.model, keep: o.keep, retrainEpochs: o.retrainEpochs, task: o.task },
  });
  await writeContinual(o.out, {
    describedBy: o.model, backbone: model.backbone, owners,
    manifest: { format: CONTINUAL_FORMAT, version: 1, baseFingerprint: await baseFingerprint(o.model), tasks: [entry], provenance },
    weights: parameterTensors(model.parameters()),
    writeTasks: async () => {},
  });
  return {
    out: o.out, task: o.task, keep: o.keep, owned, free, test: { unpruned, pruned, retrained }, retrainedEpoch,
    trainSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

export interface AddTaskOptions {
  /** The continual model directory (rewritten as a whole with the new task). */
  continual: string;
  data: string;
  task: string;
  spec: Exclude<TaskSpec, { type: 'next-item' }>;
  keep: number;
  retrainEpochs: number;
  /** How the free entries start (default DEFAULT_FREE_START). */
  freeStart?: FreeStart;
  seed: number;
  tuning: Pick<TransferOptions, 'reading' | 'epochs' | 'batch' | 'weightDecay' | 'dropout' | 'warmup' | 'patience' | 'testFraction' | 'labelFraction' | 'fold'>
    & { lr: number | null };
  progress: Progress;
}

export interface AddTaskSummary {
  task: string;
  type: TaskSpec['type'];
  /** 1-based position of the task in the model (1 = the pretraining task). */
  index: number;
  keep: number;
  owned: number;
  freeAfter: number;
  /** Test metrics before pruning the task's share and after the retraining (what the task answers with). */
  test: { unpruned: TaskResult['test']; final: TaskResult['test'] };
  /** Classify: the validation users' scores of the final network (what settings such as --free-start are chosen by). */
  validation?: { users: number; accuracy: number; logLoss: number };
  /** The final network's headline test number (accuracy, or NDCG@10) and its validation score (log-loss, or NDCG@10). */
  headline: { name: string; value: number };
  validationHeadline: { name: string; value: number };
  baselines: TaskBaselines;
  /** Entries owned + the task's LayerNorms, biases and head. */
  trainedParams: number;
  /** Bytes the task adds on disk: its mask and its own tensors. */
  taskBytes: number;
  trainSeconds: number;
}

/**
 * Sets every free entry of the block weight matrices to its start (a fresh network's value drawn with `seed`, or
 * zero) and returns pins that put every owned entry back after an optimizer step.
 */
export function startFreeEntries(shared: LoadedModel, owners: Owners, start: FreeStart, seed: number): EntryPins {
  const { model } = shared;
  const fresh = start === 'fresh' ? createEncoder(shared.config.model, new Rng(seed), itemSideOf(model)).parameterMap() : null;
  const pins = new EntryPins();
  for (const p of prunableParameters(model)) {
    const taken = owners.get(p.name)!;
    const init = fresh?.get(p.name)!.data;
    const movable = new Uint8Array(p.size);
    for (let i = 0; i < p.size; i++) {
      if (taken[i] !== 0) continue;
      p.data[i] = init ? init[i]! : 0;
      movable[i] = 1;
    }
    pins.add(p, movable);
  }
  noteParameterWrite();
  return pins;
}

/** Learns one more task into a continual model, keeping every earlier task's answers as they were. */
export async function addContinualTask(o: AddTaskOptions): Promise<AddTaskSummary> {
  checkKeep(o.keep);
  const started = process.hrtime.bigint();
  const m = await loadContinual(o.continual);
  const { tasks } = m.manifest;
  if (tasks.some((t) => t.name === o.task)) throw new DataError(`${o.continual}: already has a task named "${o.task}"; choose another --task`);
  if (tasks.length >= MAX_TASKS) throw new ModelError(`${o.continual}: holds ${MAX_TASKS} tasks, the most one continual model can`);
  if (ownedBy(m.owners, 0) === 0) throw new ModelError(`${o.continual}: no free weights remain for another task (every entry is owned by an earlier task)`);
  const index = tasks.length + 1;
  const { model } = m.shared;
  const prunable = prunableParameters(model);
  const own = taskOwnParameters(model);
  const sharedOwn = own.map((p) => Float32Array.from(p.data)); // task 1's, which the weights file keeps

  const pins = startFreeEntries(m.shared, m.owners, o.freeStart ?? DEFAULT_FREE_START, o.seed);

  const dataset = await loadTaskDataset(o.spec, m.shared, o.continual, o.data);
  const data = { task: o.task, dataset, datasetName: o.data, baseItems: m.shared.items, baseConfig: m.shared.config.model };
  const transfer: TransferOptions = {
    model, strategy: 'fine-cls', insertion: null, ...o.tuning, lr: o.tuning.lr ?? defaultLearningRate('fine-all'), seed: o.seed,
    progress: o.progress,
  };
  const trainable = [...prunable, ...own];
  const first = runTask(o.spec, data, { ...transfer, continual: { trainable, afterStep: () => pins.restore() } });
  if (first.type === 'next-item') throw new Error('internal: a continual task without a head');

  const kept = new EntryPins();
  for (const p of prunable) kept.add(p, claimLargest(p, m.owners.get(p.name)!, o.keep, index));
  noteParameterWrite();
  // Even with no retraining epochs this scores the pruned network: what the task answers with from now on.
  const final = runTask(o.spec, data, { ...transfer, epochs: o.retrainEpochs, continual: { trainable, afterStep: () => kept.restore(), head: first.head } });
  const baselines = runTaskBaselines(o.spec, data, { ...o.tuning, lr: o.tuning.lr ?? undefined, seed: o.seed });

  const owned = ownedBy(m.owners, index);
  const freeAfter = ownedBy(m.owners, 0);
  if (final.type === 'next-item') throw new Error('internal: a continual task without a head');
  const { head } = final;
  const taskTensors = [...own, ...head.parameters()];
  // What the task trained and keeps: its share of the entries, its LayerNorms and biases, its head.
  const trainedParams = owned + taskTensors.reduce((n, p) => n + p.size, 0);
  const card = { ...taskCardFor(o.spec, final, m.manifest.baseFingerprint, null), strategy: 'conure' as const, trainedParams };
  const entry: ContinualTaskEntry = {
    name: o.task, type: o.spec.type, keep: o.keep, owned, freeAfter, test: { unpruned: first.test, final: final.test },
  };
  const weights = parameterTensors(model.parameters());
  own.forEach((p, i) => weights.set(p.name, { dtype: 'F32', shape: [...p.shape], data: sharedOwn[i]! }));
  const provenance = await collectProvenance({
    seed: o.seed, dataset: o.data, config: { continual: o.continual, task: o.task, spec: o.spec, keep: o.keep, retrainEpochs: o.retrainEpochs, ...o.tuning },
  });
  const manifest: Omit<ContinualManifest, 'weightsFingerprint'> = { ...m.manifest, tasks: [...tasks, entry] };
  await writeContinual(o.continual, {
    describedBy: o.continual, backbone: model.backbone, owners: m.owners, manifest, weights,
    writeTasks: async (tasksDir) => {
      for (const t of tasks.slice(1)) await cp(taskDir(o.continual, t.name), join(tasksDir, t.name), { recursive: true });
      await writePatchDir(join(tasksDir, o.task), { ...card, provenance }, { trained: taskTensors, head });
    },
  });
  const taskBytes = directoryBytes(taskDir(o.continual, o.task));
  return {
    task: o.task, type: o.spec.type, index, keep: o.keep, owned, freeAfter, test: { unpruned: first.test, final: final.test }, baselines,
    ...(final.type === 'classify' ? { validation: final.validation } : {}),
    headline: headline(final), validationHeadline: validationHeadline(final),
    trainedParams, taskBytes,
    trainSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}
