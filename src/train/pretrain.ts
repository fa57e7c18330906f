/**
 * Pretraining the user model on a dataset: leave-one-out split, shuffled windows, validation (full-ranking
 * NDCG@10) after every epoch with early stopping, the best weights kept in MODEL/, the latest state in
 * MODEL/checkpoint/ for --resume, and one metrics line per epoch. Same seed, same machine ⇒ same numbers.
 * The objective is a list of weighted loss terms (objectives.ts); with contrastive learning alone the output layer
 * is not trained, so validation NDCG cannot pick an epoch and the latest epoch is kept instead.
 *
 * Data-parallel (a communicator given): every rank plans the same batches and prepares each whole batch from the
 * same seeded stream (masks, negatives), trains on its shard of the rows, and the gradients are summed across ranks
 * (distributed/gradients.ts), so all ranks take the same steps as one process with the same global batch.
 * Validation is sharded by user, its ranks gathered; rank 0 alone writes files.
 */
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_OBJECTIVE, MODEL_DEFAULTS, ModelConfig, ModelConfigSchema, ModelOptions, Objective, TrainConfig, usesText } from '../config/schema.js';
import { epochBatches } from '../data/batch-plan.js';
import { Dataset } from '../data/dataset.js';
import { loadDatasets } from '../data/merge.js';
import { itemCounts, leaveOneOutSplit } from '../data/split.js';
import { InterruptedError, ModelError, TrainingError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { createEncoder } from '../models/encoders.js';
import { Communicator, shardRows } from '../distributed/communicator.js';
import { exchangeGradients } from '../distributed/gradients.js';
import { Module } from '../nn/module.js';
import { Adam, Parameter, Rng } from '../tensor/index.js';
import {
  MODEL_FORMAT, ModelDirConfig, TrainerState, assertItemTextFor, datasetItemSide, loadCheckpoint, readModelDirConfig, vocabularyHash, writeCheckpoint,
  writeModelFiles,
} from './checkpoint.js';
import { Progress, createProgress } from './progress.js';
import { collectProvenance } from './provenance.js';
import { ProjectionHead } from './contrastive.js';
import { LossName, augmentRng, lossTerms, networkObjective, objectiveWindows, shardable, softmaxOptions } from './objectives.js';
import { trainingStep } from './step.js';

export interface PretrainOptions {
  data: string;
  out: string;
  /** Model hyperparameters (numItems comes from the dataset; the objective from train.objective when that is set). */
  model: ModelOptions;
  train: TrainConfig;
  resume?: boolean;
  progress?: Progress;
  log?: (line: string) => void;
  /** Aborting it (Ctrl-C) stops the run between two steps; the last complete epoch's checkpoint stays for --resume. */
  signal?: AbortSignal;
  /** Data-parallel training over this job's ranks (see the file comment). */
  communicator?: Communicator;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  /** The weighted sum of the terms' epoch means. */
  trainLoss: number;
  /** Each loss term's mean over the epoch. */
  trainLosses: Partial<Record<LossName, number>>;
  valid: Record<string, number>;
  epochSeconds: number;
  itemsPerSec: number;
  /** Training windows (sequences) per second of the epoch's steps. */
  sequencesPerSec: number;
}

export interface PretrainResult {
  epochs: number;
  bestEpoch: number;
  bestValid: number;
  stoppedEarly: boolean;
  history: EpochRecord[];
  /** Popularity's validation NDCG@10 on the same users (null when this call ran no epoch). */
  popularityValid: number | null;
}

/** A step's loss over this multiple of ln(items) stops the run as diverged. */
const DIVERGENCE_FACTOR = 100;

/** How many training steps run between two looks at the interrupt signal. */
const INTERRUPT_CHECK_STEPS = 8;

/** The separate stream for shuffling, masking, negatives and views: init uses `seed`, training `seed + 1`. */
function trainingRng(seed: number): Rng {
  return new Rng(seed + 1);
}

/** The projection head's initial weights have their own stream, so the backbone starts the same with or without it. */
function projectionHeadRng(seed: number): Rng {
  return new Rng(seed + 2);
}

/** What a run trains: train.objective, or (when unset) the model's own sequence objective alone. */
export function pretrainingObjective(model: Pick<ModelOptions, 'objective' | 'backbone'>, train: Pick<TrainConfig, 'objective'>): Objective {
  return train.objective ?? model.objective ?? DEFAULT_OBJECTIVE[model.backbone ?? MODEL_DEFAULTS.backbone];
}

/** The full model config, or one clear error naming the first problem (bad heads, a masked sasrec, …). */
function parseModelConfig(options: ModelOptions & { numItems: number }): ModelConfig {
  const parsed = ModelConfigSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelError(`invalid model: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

function isNonEmptyDir(path: string): boolean {
  return existsSync(path) && readdirSync(path).length > 0;
}

export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const comm = options.communicator ?? null;
  const isRoot = comm === null || comm.rank === 0;
  const log = isRoot ? options.log ?? (() => {}) : () => {};
  const progress = isRoot && options.progress ? options.progress : createProgress(process.stderr, true);
  // `a,b`: several datasets trained as one (data/merge.ts).
  const ds: Dataset = await loadDatasets(options.data);
  const vocabHash = vocabularyHash(ds.items);
  if (!options.resume && isNonEmptyDir(options.out)) {
    throw new ModelError(`${options.out}: already exists and is not empty; pass --resume to continue it or choose another --out`);
  }
  const encoderKind = options.model.itemEncoder ?? 'id';
  const readsText = usesText(encoderKind);
  if (readsText && !ds.meta.itemText) {
    throw new ModelError(`${options.data}: has no item text, which the ${encoderKind} item encoder needs; ingest it with --item-text`);
  }
  if (encoderKind === 'features' && !ds.meta.itemFeatures) {
    throw new ModelError(`${options.data}: has no item vectors, which the features item encoder needs; ingest them with --item-features`);
  }
  let config: ModelDirConfig;
  if (options.resume) {
    const previous = await readModelDirConfig(join(options.out, 'checkpoint'));
    if (previous.vocabularyHash !== vocabHash) {
      throw new ModelError(`${options.out}: the checkpoint was trained on another item vocabulary than ${options.data}`);
    }
    if (options.model.itemEncoder !== undefined && options.model.itemEncoder !== previous.model.itemEncoder) {
      throw new ModelError(`${options.out}: the checkpoint encodes items by ${previous.model.itemEncoder}, not ${options.model.itemEncoder}; refusing to resume it`);
    }
    if (options.model.backbone !== undefined && options.model.backbone !== previous.model.backbone) {
      throw new ModelError(`${options.out}: the checkpoint is a ${previous.model.backbone} model, not ${options.model.backbone}; refusing to resume it as one`);
    }
    // The model must be the one in the checkpoint; the epoch budget may be extended.
    config = { ...previous, train: { ...previous.train, epochs: options.train.epochs } };
  } else {
    config = {
      format: MODEL_FORMAT,
      version: 1,
      model: parseModelConfig({
        ...options.model, numItems: ds.meta.numItems,
        objective: networkObjective(pretrainingObjective(options.model, options.train)),
        ...(readsText && ds.meta.itemText ? { textBuckets: ds.meta.itemText.tokenizer.buckets } : {}),
        ...(encoderKind === 'features' && ds.meta.itemFeatures ? { featureDim: ds.meta.itemFeatures.dim } : {}),
      }),
      train: { ...options.train, objective: pretrainingObjective(options.model, options.train) },
      vocabularyHash: vocabHash,
      dataset: options.data,
      ...(readsText && ds.meta.itemText ? { itemText: { tokenizer: ds.meta.itemText.tokenizer } } : {}),
    };
  }
  assertItemTextFor(config, ds, options.out, options.data);
  // Recorded afresh by every run (a resumed run may run other code on another machine): the run that wrote the
  // weights is the one described.
  config.provenance = await collectProvenance({ seed: config.train.seed, config: { model: config.model, train: config.train }, dataset: options.data });
  const { model: modelConfig, train } = config;
  const objective = pretrainingObjective(modelConfig, train);
  if (comm && !shardable(objective, train)) {
    throw new TrainingError(`--distributed trains the sequence objectives (causal, masked) only: the ${objective} objective${train.heldOut.weight > 0 ? ' with the held-out items loss' : ''} couples a batch's rows, which would be split across ranks`);
  }
  const model = createEncoder(modelConfig, new Rng(train.seed), datasetItemSide(ds, modelConfig.itemEncoder));
  const head = objective.endsWith('contrastive')
    ? new ProjectionHead(modelConfig.dim, train.contrastive.projectionDim, projectionHeadRng(train.seed))
    : null;
  const trained: Module[] = head ? [model, head] : [model];
  const optimizer = new Adam(trained.flatMap((m) => m.parameters()), { lr: train.lr, weightDecay: train.weightDecay, decoupled: true });
  let state: TrainerState = {
    epoch: 0, step: 0, rngState: trainingRng(train.seed).state(), augmentRngState: augmentRng(train.seed).state(), bestNdcg: -1, bestEpoch: 0,
    epochsWithoutImprovement: 0, trainSeconds: 0,
  };
  if (options.resume) {
    state = (await loadCheckpoint(options.out, trained, optimizer)).state;
    if (state.epoch >= train.epochs) {
      log(`nothing to resume: ${options.out} has already run ${state.epoch} of ${train.epochs} epochs; pass a larger --epochs to train on`);
    } else if (state.epochsWithoutImprovement >= train.patience) {
      log(`nothing to resume: ${options.out} stopped early after epoch ${state.epoch} (${state.epochsWithoutImprovement} epochs without improvement, patience ${train.patience})`);
    } else {
      log(`resuming from epoch ${state.epoch} (step ${state.step})`);
    }
  }

  const split = leaveOneOutSplit(ds);
  const counts = itemCounts(split.train, modelConfig.numItems);
  const { windows, lengths: windowLengths } = objectiveWindows(split.train, modelConfig.objective, modelConfig.maxLen);
  // A checkpoint from before the stream was saved resumes it from its start.
  const augment = new Rng({ state: state.augmentRngState ?? augmentRng(train.seed).state() });
  const terms = lossTerms(objective, model, head, train, softmaxOptions(train, counts), augment);
  // Contrastive learning alone leaves the output layer untrained: validation NDCG cannot pick an epoch (the latest
  // is kept), and throughput counts the items read rather than the items predicted.
  const trainsOutputLayer = objective !== 'contrastive' || train.heldOut.weight > 0;
  if (windows.length === 0) throw new TrainingError(`${options.data}: no user has enough items to train on (need ≥ 4 per user)`);
  if (split.valid.targets.length === 0) throw new TrainingError(`${options.data}: no user has ≥ 3 items, so there is no validation set`);
  const rng = new Rng({ state: state.rngState });
  // A loss this far above guessing uniformly over the items means the weights blew up (a learning rate too large).
  const uniformLoss = Math.log(Math.max(2, modelConfig.numItems));
  const divergedLoss = DIVERGENCE_FACTOR * uniformLoss;
  const createdOut = !existsSync(options.out);
  if (isRoot) await mkdir(options.out, { recursive: true });
  const exchange = comm ? (params: readonly Parameter[], scalars: number[]) => exchangeGradients(comm, params, scalars).scalars : undefined;

  const history: EpochRecord[] = [];
  let popularityNdcg: number | null = null;
  let stoppedEarly = false;
  try {
    while (state.epoch < train.epochs) {
      if (state.epochsWithoutImprovement >= train.patience) {
        stoppedEarly = true;
        break;
      }
      const epoch = state.epoch + 1;
      const batches = epochBatches(windowLengths, { batch: train.batch, tokens: train.batchTokens, lengthBuckets: train.lengthBuckets }, rng);
      progress.start(`epoch ${epoch}/${train.epochs}`, batches.length);
      const started = process.hrtime.bigint();
      const epochLoss = new EpochLoss(terms.map((t) => ({ name: t.name, weight: t.weight })));
      let itemSum = 0;
      for (let b = 0; b < batches.length; b++) {
        // Every few steps the event loop gets a turn, so an interrupt is seen within a second, not at the epoch's end.
        if (options.signal && b % INTERRUPT_CHECK_STEPS === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          if (options.signal.aborted) {
            throw new InterruptedError(state.epoch === 0
              ? `stopped in epoch 1 before any checkpoint; nothing was kept`
              : `stopped in epoch ${epoch}; ${options.out} holds the best model so far and the checkpoint of epoch ${state.epoch}: continue with --resume`);
          }
        }
        const chosen = Array.from(batches[b]!, (i) => windows[i]!);
        const rows = comm ? shardRows(chosen.length, comm.rank, comm.size) : undefined;
        // A rank draws its rows of the whole batch's dropout masks: the single process's masks, split.
        model.startTrainingStep(state.step, rows);
        const r = trainingStep(terms.map((t) => t.prepare(chosen, rng, rows)), optimizer, { clipNorm: train.clipNorm, exchange });
        if (r.loss > divergedLoss) {
          throw new TrainingError(`training diverged at step ${state.step + 1}: loss ${r.loss.toPrecision(3)}, over ${DIVERGENCE_FACTOR}× the ${uniformLoss.toFixed(2)} of a uniform guess; lower --lr (now ${train.lr})`);
        }
        epochLoss.add(r.terms);
        itemSum += trainsOutputLayer ? r.terms[0]!.count : chosen.reduce((n, w) => n + w.length, 0);
        state.step++;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        progress.update(b + 1, { loss: epochLoss.total(), itemsPerSec: itemSum / Math.max(seconds, 1e-9) });
      }
      progress.stop();
      const epochSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Data-parallel: each rank ranks its share of the users and the ranks are gathered, so every rank has the
      // metrics (and makes the same early-stopping decision) that one process would.
      const shard = comm ? { ...shardRows(split.valid.targets.length, comm.rank, comm.size), gather: (r: Int32Array) => comm.allgatherv(r).data } : undefined;
      const valid = evaluateNextItem(model, split.valid, counts, { ks: [10], maskHistory: false, withPopularity: popularityNdcg === null, shard });
      popularityNdcg ??= valid.popularity!['NDCG@10']!;
      const record: EpochRecord = {
        epoch, step: state.step, trainLoss: epochLoss.total(), trainLosses: epochLoss.means(),
        valid: valid.metrics, epochSeconds, itemsPerSec: itemSum / epochSeconds, sequencesPerSec: windows.length / epochSeconds,
      };
      history.push(record);
      state.epoch = epoch;
      state.trainSeconds += epochSeconds;
      state.rngState = rng.state();
      state.augmentRngState = augment.state();
      const ndcg = valid.metrics['NDCG@10']!;
      if (ndcg > state.bestNdcg || !trainsOutputLayer) {
        state.bestNdcg = ndcg;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        if (isRoot) await writeModelFiles(options.out, config, model, ds.items);
      } else {
        state.epochsWithoutImprovement++;
      }
      if (isRoot) {
        await appendFile(join(options.out, 'metrics.jsonl'), JSON.stringify(record) + '\n');
        await writeCheckpoint(options.out, trained, optimizer, state, config);
      }
      log(`epoch ${epoch}: loss ${record.trainLoss.toFixed(4)}${epochLoss.describeTerms()}, valid HR@10 ${valid.metrics['HR@10']!.toFixed(4)} NDCG@10 ${ndcg.toFixed(4)} (popularity ${popularityNdcg.toFixed(4)}), ${Math.round(record.itemsPerSec)} items/s`);
    }
    if (state.epochsWithoutImprovement >= train.patience && state.epoch < train.epochs) stoppedEarly = true;
  } catch (err) {
    progress.stop();
    // A run that never completed an epoch leaves nothing behind; later failures keep the last good checkpoint.
    if (createdOut && state.epoch === 0 && isRoot) await rm(options.out, { recursive: true, force: true });
    else if (err instanceof TrainingError) {
      err.message += ` (the best model so far and the last checkpoint are in ${options.out})`;
    }
    throw err;
  }
  if (isRoot) await writeFileAtomic(join(options.out, 'training.json'), JSON.stringify({ ...state, stoppedEarly }, null, 2) + '\n');
  return { epochs: state.epoch, bestEpoch: state.bestEpoch, bestValid: state.bestNdcg, stoppedEarly, history, popularityValid: popularityNdcg };
}

/** Each loss term's mean over an epoch (weighted by what each batch's loss averaged over) and their weighted sum. */
class EpochLoss {
  private readonly sums: number[];
  private readonly counts: number[];

  constructor(private readonly terms: readonly { name: LossName; weight: number }[]) {
    this.sums = terms.map(() => 0);
    this.counts = terms.map(() => 0);
  }

  add(results: readonly { loss: number; count: number }[]): void {
    results.forEach((r, i) => {
      this.sums[i]! += r.loss * r.count;
      this.counts[i]! += r.count;
    });
  }

  means(): Partial<Record<LossName, number>> {
    return Object.fromEntries(this.terms.map((t, i) => [t.name, this.sums[i]! / Math.max(1, this.counts[i]!)]));
  }

  total(): number {
    return this.terms.reduce((s, t, i) => s + t.weight * (this.sums[i]! / Math.max(1, this.counts[i]!)), 0);
  }

  /** " (next-item 5.1234, contrastive 3.2100)" when there is more than one term, else "". */
  describeTerms(): string {
    if (this.terms.length < 2) return '';
    const means = this.means();
    return ` (${this.terms.map((t) => `${t.name} ${means[t.name]!.toFixed(4)}`).join(', ')})`;
  }
}
