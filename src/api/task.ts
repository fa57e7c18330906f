/**
 * Downstream tasks: fine-tuning one (PeterRec patches or a fine-tuning baseline) into a patch directory, loading
 * a patch onto a loaded base model, and its answers for users.
 */
import { z } from 'zod';
import { TransferConfig, TransferConfigSchema } from '../config/schema.js';
import { Communicator } from '../distributed/communicator.js';
import { DataError } from '../errors.js';
import { refuseNonEmptyDir } from '../io/atomic.js';
import { createEncoder, itemSideOf } from '../models/encoders.js';
import { Rng } from '../tensor/index.js';
import { loadModelDir } from '../train/checkpoint.js';
import { Progress } from '../train/progress.js';
import { collectProvenance } from '../train/provenance.js';
import { PATCH_INSERTIONS, PatchInsertion, defaultInsertion } from '../transfer/insertion.js';
import { AnyTask, ValidationVerdict, loadTaskDir, baseFingerprint, writePatchDir } from '../transfer/patchfile.js';
import { TaskAnswer, predictTask } from '../transfer/predict.js';
import { STRATEGIES, Strategy, defaultLearningRate, strategyUsesPretraining } from '../transfer/strategies.js';
import { TransferAccounting } from '../transfer/task.js';
import { loadTaskDataset } from '../transfer/task-dataset.js';
import { TASK_TYPES, TaskBaselines, TaskResult, TaskSpec, checkStrategyFor, runTask, runTaskBaselines, taskCardFor, validationVerdict } from '../transfer/tasks.js';
import { UserReading } from '../models/user-vectors.js';
import { Model } from './model.js';
import { parseOptions } from './options.js';
import { ProgressCallback, progressTo } from './progress.js';
import { HistoryWording, NUMBERED_HISTORIES, Users, resolveCatalogueUsers, resolveUsers } from './query.js';

export type { TaskAnswer, TaskBaselines, TaskSpec };

/** A fine-tuning run with its task already specified (what `graftrec finetune` and {@link finetune} both run). */
export interface FinetuneRun {
  spec: TaskSpec;
  /** Base model directory (loaded fresh: the fine-* strategies change its weights). */
  model: string;
  data: string;
  task: string;
  /** Patch directory to write; an existing non-empty one only with `force`. */
  out: string;
  force: boolean;
  strategy: Strategy;
  /** Default: the backbone's default insertion. */
  insertion?: PatchInsertion;
  patchDim?: number;
  zeroInitUp?: boolean;
  seed: number;
  tuning: {
    reading: UserReading; epochs: number; batch: number; lr: number | null; weightDecay: number; dropout: number;
    warmup: number; patience: number; testFraction: number; labelFraction: number;
  };
  progress: Progress;
  /**
   * Data-parallel training over this job's ranks (transfer/task.ts): every rank trains and evaluates alike, rank 0
   * alone writes the patch directory.
   */
  communicator?: Communicator;
}

/** What a fine-tuning summary repeats of the task's accounting (documented there). */
type SummaryAccounting = Pick<TransferAccounting, 'strategy' | 'insertion' | 'trainedParams' | 'totalParams' | 'patchBytes' | 'epochs'
  | 'bestEpoch' | 'validationScore' | 'trainSeconds' | 'trainLosses' | 'validationScores'>;

export interface FinetuneSummary extends SummaryAccounting {
  task: string;
  type: TaskSpec['type'];
  /** Classify: the validation metrics at the kept epoch. */
  validation?: Record<string, number>;
  /** Test metrics: accuracy, macro-F1, AUC (classify) or HR/NDCG/MRR@k (recommend, next-item). */
  test: TaskResult['test'];
  /** The comparison rows on the same test users (majority class + logistic regression, or popularity + co-occurrence). */
  baselines: TaskBaselines;
  /** The task against its strongest baseline on the validation users. */
  verdict: ValidationVerdict;
}

/** Trains the task, its baselines, and writes the patch directory with its card and provenance. */
export async function runFinetune(o: FinetuneRun): Promise<{ summary: FinetuneSummary; result: TaskResult; baselines: TaskBaselines }> {
  checkStrategyFor(o.spec, o.strategy);
  // A patch is a trained artefact: like pretrain, refuse to replace one unless asked (before any training).
  refuseNonEmptyDir(o.out, o.force);
  const base = await loadModelDir(o.model);
  const dataset = await loadTaskDataset(o.spec, base, o.model, o.data);
  const model = strategyUsesPretraining(o.strategy) ? base.model : createEncoder(base.config.model, new Rng(o.seed), itemSideOf(base.model));
  const data = { task: o.task, dataset, datasetName: o.data, baseItems: base.items, baseConfig: base.config.model };
  const lr = o.tuning.lr ?? defaultLearningRate(o.strategy, o.spec.type);
  const insertion = o.insertion ?? defaultInsertion(model.backbone);
  const fingerprint = await baseFingerprint(o.model);
  const provenance = await collectProvenance({
    seed: o.seed, dataset: o.data,
    config: {
      task: o.task, spec: o.spec, strategy: o.strategy, insertion, patchDim: o.patchDim ?? null, zeroInitUp: o.zeroInitUp ?? false,
      ...o.tuning, lr, model: o.model, baseFingerprint: fingerprint,
    },
  });
  const communicator = o.communicator;
  const result = runTask(o.spec, data, {
    model, strategy: o.strategy, insertion, patchDim: o.patchDim, zeroInitUp: o.zeroInitUp, ...o.tuning, lr, seed: o.seed, progress: o.progress,
    communicator,
  });
  // Every rank computes the baselines too: the next-item task's id model trains over the ranks like the task.
  const baselines = runTaskBaselines(o.spec, data, { ...o.tuning, lr: o.tuning.lr ?? undefined, seed: o.seed, communicator });
  const verdict = validationVerdict(result, baselines);
  if (!communicator || communicator.rank === 0) {
    await writePatchDir(o.out, { ...taskCardFor(o.spec, result, fingerprint, o.patchDim ?? null), verdict, provenance }, result,
      result.type === 'next-item' ? result.catalogue : null);
  }
  const summary: FinetuneSummary = {
    task: o.task, type: o.spec.type, strategy: o.strategy, insertion: result.insertion, trainedParams: result.trainedParams,
    totalParams: result.totalParams, patchBytes: result.patchBytes, epochs: result.epochs, bestEpoch: result.bestEpoch,
    validationScore: result.validationScore, trainSeconds: result.trainSeconds, trainLosses: result.trainLosses,
    validationScores: result.validationScores,
    ...(result.type === 'classify' ? { validation: result.validation } : {}), test: result.test, baselines,
    verdict,
  };
  return { summary, result, baselines };
}

export const FinetuneSchema = TransferConfigSchema.extend({
  model: z.string().min(1),
  data: z.string().min(1),
  task: z.string().min(1),
  out: z.string().min(1),
  force: z.boolean().default(false),
  type: z.enum(TASK_TYPES).default('classify'),
  label: z.string().optional(),
  bins: z.array(z.number()).nullable().default(null),
  sourceDomain: z.string().optional(),
  targetDomain: z.string().optional(),
  negatives: z.number().int().min(0).default(0),
  newItems: z.number().min(0).lt(1).default(0),
  ks: z.array(z.number().int().positive()).nonempty().default([5, 10, 20]),
  strategy: z.enum(STRATEGIES).default('peterrec'),
  insertion: z.enum(PATCH_INSERTIONS).optional(),
  patchDim: z.number().int().positive().optional(),
  zeroInitUp: z.boolean().default(false),
  seed: z.number().int().min(0).default(1),
});

/**
 * Options of {@link finetune}: the task, where the patch goes, and any fine-tuning setting (defaults from the
 * config schema's transfer section: mean pooling over the whole history, item bag, 40 epochs, batch 64, the
 * strategy's learning rate, weight decay 0.01, dropout 0.3, patience 5, 20% test users).
 */
export type FinetuneOptions = z.input<typeof FinetuneSchema> & { onProgress?: ProgressCallback };

/** The fine-tuning settings of a run's options (the learning rate stays null where the strategy's default applies). */
export function tuningOf(o: Omit<TransferConfig, 'itemPairs'>): FinetuneRun['tuning'] {
  return {
    reading: { pooling: o.pooling, windows: o.windows, itemBag: o.itemBag }, epochs: o.epochs, batch: o.batch, lr: o.lr,
    weightDecay: o.weightDecay, dropout: o.dropout, warmup: o.warmup, patience: o.patience, testFraction: o.testFraction,
    labelFraction: o.labelFraction,
  };
}

/** What taskSpecOf's errors call the options: the library its option names, the command line its flags. */
export interface TaskOptionNames {
  prefix: string;
  type: string;
  label: string;
  sourceDomain: string;
  targetDomain: string;
  newItems: string;
}

const TASK_OPTION_NAMES: TaskOptionNames = {
  prefix: 'finetune: ', type: 'type', label: 'label', sourceDomain: 'sourceDomain', targetDomain: 'targetDomain', newItems: 'newItems',
};

/** The task options a spec is built from (finetune's, and the command line's task flags). */
export type TaskOptions = Pick<z.output<typeof FinetuneSchema>,
  'type' | 'label' | 'bins' | 'sourceDomain' | 'targetDomain' | 'negatives' | 'itemPairs' | 'ks' | 'newItems'>;

/** The task a run trains, from its options; a type without the options it needs is one DataError naming them. */
export function taskSpecOf(o: TaskOptions, n: TaskOptionNames = TASK_OPTION_NAMES): TaskSpec {
  if (o.newItems > 0 && o.type !== 'next-item') {
    throw new DataError(`${n.prefix}${n.newItems} holds back items of a new platform's catalogue; it applies to ${n.type} next-item only`);
  }
  if (o.type === 'classify') {
    if (o.label === undefined) throw new DataError(`${n.prefix}${n.type} classify needs ${n.label}, the attribute column to predict`);
    return { type: 'classify', label: o.label, bins: o.bins };
  }
  // NDCG@10 is the validation and headline metric, so it is always reported.
  const ks = [...new Set([...o.ks, 10])].sort((a, b) => a - b);
  if (o.type === 'next-item') return { type: 'next-item', negatives: o.negatives, ks, newItems: o.newItems };
  if (o.sourceDomain === undefined || o.targetDomain === undefined) {
    throw new DataError(`${n.prefix}${n.type} recommend needs ${n.sourceDomain} and ${n.targetDomain} ` +
      `(for a new platform's own catalogue, with no shared ids, use ${n.type} next-item)`);
  }
  // The item-pair table adds to the full softmax only; a sampled-softmax task goes without it.
  return { type: 'recommend', sourceDomain: o.sourceDomain, targetDomain: o.targetDomain, negatives: o.negatives, itemPairs: o.itemPairs && o.negatives === 0, ks };
}

/**
 * Adapts a pretrained model to a downstream task and writes the task as a patch directory at `out`
 * (`patch.safetensors` with only the trained tensors, `task.json` with the card and provenance).
 *
 * - `type: 'classify'` (default): predict the user attribute `label` (attached at ingest; `bins` buckets a
 *   numeric one); the dataset must have the model's vocabulary.
 * - `type: 'recommend'`: cross-domain / cold-start recommendation from `sourceDomain` into `targetDomain`.
 * - `type: 'next-item'`: next items on a new platform's catalogue (a text base).
 *
 * @returns test metrics, the baselines on the same users, and the trained-parameter accounting.
 * @throws DataError for invalid options or an existing `out` without `force`; ModelError for a strategy or
 *   insertion the model cannot take.
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneSummary & { out: string }> {
  const { onProgress, ...rest } = options;
  const o = parseOptions(FinetuneSchema, rest, 'finetune');
  const { summary } = await runFinetune({
    spec: taskSpecOf(o), model: o.model, data: o.data, task: o.task, out: o.out, force: o.force, strategy: o.strategy,
    insertion: o.insertion, patchDim: o.patchDim, zeroInitUp: o.zeroInitUp, seed: o.seed, progress: progressTo(onProgress),
    tuning: tuningOf(o),
  });
  return { out: o.out, ...summary };
}

/** A task patch loaded onto a base model (which it shares and does not modify). */
export type Task = AnyTask & {
  base: Model;
};

/**
 * Loads a patch directory onto a loaded base model (onto the model as trained, when it was loaded with new items).
 *
 * @throws ModelError when the patch was trained on another base (fingerprints differ) or its files are broken.
 */
export async function loadPatch(dir: string, base: Model): Promise<Task> {
  const trained = base.trained ?? base;
  return { ...(await loadTaskDir(dir, trained, trained.fingerprint)), base: trained };
}

/**
 * The task's answer for each user: `{ label, probabilities }` (classify) or `{ recommendations }`, the top-k
 * target items (recommend; `k` default 10). A cross-domain task reads each user's source-domain items.
 *
 * @param wording - what errors about given histories say (the command line names --items).
 */
export async function predict(task: Task, who: Users, options: { k?: number } = {},
  wording: HistoryWording = NUMBERED_HISTORIES): Promise<TaskAnswer[]> {
  const k = options.k ?? 10;
  if (!Number.isSafeInteger(k) || k < 1) throw new DataError(`predict: k must be a positive integer, got ${k}`);
  if (task.head === null) {
    // A next-item task reads its own platform: its users and item ids, not the base's.
    return predictTask(task, (await resolveCatalogueUsers(who, task.card.targetItems, task.itemIndex, `task "${task.card.task}"`, wording)).histories, { k });
  }
  const sourceDomain = task.card.type === 'recommend' ? task.card.sourceDomain : null;
  return predictTask(task, (await resolveUsers(who, task.base, sourceDomain, wording)).histories, { k });
}
