/**
 * Pretraining the user model on a dataset: leave-one-out split, shuffled windows, validation (full-ranking
 * NDCG@10) after every epoch with early stopping, the best weights kept in MODEL/, the latest state in
 * MODEL/checkpoint/ for --resume, and one metrics line per epoch. Same seed, same machine ⇒ same numbers.
 */
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelConfig, ModelConfigSchema, TrainConfig } from '../config/schema.js';
import { Batch, causalBatch, maskedBatch, trainingWindows } from '../data/batches.js';
import { Dataset, loadDataset } from '../data/dataset.js';
import { itemCounts, leaveOneOutSplit } from '../data/split.js';
import { ModelError, TrainingError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { NextItNet } from '../models/nextitnet.js';
import { Adam, Rng } from '../tensor/index.js';
import {
  MODEL_FORMAT, ModelDirConfig, TrainerState, loadCheckpoint, readModelDirConfig, vocabularyHash, writeCheckpoint,
  writeModelFiles,
} from './checkpoint.js';
import { Progress, createProgress } from './progress.js';
import { NegativeSampler } from './sampler.js';
import { trainingStep } from './step.js';

export interface PretrainOptions {
  data: string;
  out: string;
  /** Model hyperparameters (numItems comes from the dataset). */
  model: Omit<ModelConfig, 'numItems'>;
  train: TrainConfig;
  resume?: boolean;
  progress?: Progress;
  log?: (line: string) => void;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  trainLoss: number;
  valid: Record<string, number>;
  epochSeconds: number;
  itemsPerSec: number;
}

export interface PretrainResult {
  epochs: number;
  bestEpoch: number;
  bestValid: number;
  stoppedEarly: boolean;
  history: EpochRecord[];
}

/** The separate stream for shuffling, masking and negatives: init uses `seed`, training `seed + 1`. */
function trainingRng(seed: number): Rng {
  return new Rng(seed + 1);
}

function isNonEmptyDir(path: string): boolean {
  return existsSync(path) && readdirSync(path).length > 0;
}

export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const log = options.log ?? (() => {});
  const progress = options.progress ?? createProgress(process.stderr, true);
  const ds: Dataset = await loadDataset(options.data);
  const vocabHash = vocabularyHash(ds.items);
  if (!options.resume && isNonEmptyDir(options.out)) {
    throw new ModelError(`${options.out}: already exists and is not empty; pass --resume to continue it or choose another --out`);
  }
  let config: ModelDirConfig;
  if (options.resume) {
    const previous = await readModelDirConfig(join(options.out, 'checkpoint'));
    if (previous.vocabularyHash !== vocabHash) {
      throw new ModelError(`${options.out}: the checkpoint was trained on another item vocabulary than ${options.data}`);
    }
    // The model must be the one in the checkpoint; the epoch budget may be extended.
    config = { ...previous, train: { ...previous.train, epochs: options.train.epochs } };
  } else {
    config = {
      format: MODEL_FORMAT,
      version: 1,
      model: ModelConfigSchema.parse({ ...options.model, numItems: ds.meta.numItems }),
      train: options.train,
      vocabularyHash: vocabHash,
      dataset: options.data,
    };
  }
  const { model: modelConfig, train } = config;
  const model = new NextItNet(modelConfig, new Rng(train.seed));
  const optimizer = new Adam(model.parameters(), { lr: train.lr, weightDecay: train.weightDecay, decoupled: true });
  let state: TrainerState = {
    epoch: 0, step: 0, rngState: trainingRng(train.seed).state(), bestNdcg: -1, bestEpoch: 0,
    epochsWithoutImprovement: 0, trainSeconds: 0,
  };
  if (options.resume) {
    state = (await loadCheckpoint(options.out, model, optimizer)).state;
    log(`resuming from epoch ${state.epoch} (step ${state.step})`);
  }

  const split = leaveOneOutSplit(ds);
  const counts = itemCounts(split.train, modelConfig.numItems);
  const masked = modelConfig.objective === 'masked';
  const windows = trainingWindows(split.train, masked ? modelConfig.maxLen - 1 : modelConfig.maxLen);
  if (windows.length === 0) throw new TrainingError(`${options.data}: no user has enough items to train on (need ≥ 4 per user)`);
  if (split.valid.targets.length === 0) throw new TrainingError(`${options.data}: no user has ≥ 3 items, so there is no validation set`);
  const sampler = train.negatives > 0 ? new NegativeSampler(counts) : null;
  const rng = new Rng({ state: state.rngState });
  const createdOut = !existsSync(options.out);
  await mkdir(options.out, { recursive: true });

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
      const order = rng.shuffle(Int32Array.from({ length: windows.length }, (_, i) => i));
      const batches = Math.ceil(windows.length / train.batch);
      progress.start(`epoch ${epoch}/${train.epochs}`, batches);
      const started = process.hrtime.bigint();
      let lossSum = 0;
      let targetSum = 0;
      for (let b = 0; b < batches; b++) {
        const chosen = Array.from(order.subarray(b * train.batch, (b + 1) * train.batch), (i) => windows[i]!);
        const batch: Batch = masked
          ? maskedBatch(chosen, modelConfig.maxLen, { probability: modelConfig.maskProbability, maskToken: model.maskToken, numItems: modelConfig.numItems }, rng)
          : causalBatch(chosen, modelConfig.maxLen);
        const r = trainingStep(model, batch, optimizer, { negatives: train.negatives, sampler, rng, clipNorm: train.clipNorm });
        lossSum += r.loss * r.targets;
        targetSum += r.targets;
        state.step++;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        progress.update(b + 1, { loss: lossSum / Math.max(1, targetSum), itemsPerSec: targetSum / Math.max(seconds, 1e-9) });
      }
      progress.stop();
      const epochSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const valid = evaluateNextItem(model, split.valid, counts, { ks: [10], maskHistory: false, withPopularity: popularityNdcg === null });
      popularityNdcg ??= valid.popularity!['NDCG@10']!;
      const record: EpochRecord = {
        epoch, step: state.step, trainLoss: lossSum / Math.max(1, targetSum),
        valid: valid.metrics, epochSeconds, itemsPerSec: targetSum / epochSeconds,
      };
      history.push(record);
      state.epoch = epoch;
      state.trainSeconds += epochSeconds;
      state.rngState = rng.state();
      const ndcg = valid.metrics['NDCG@10']!;
      if (ndcg > state.bestNdcg) {
        state.bestNdcg = ndcg;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        await writeModelFiles(options.out, config, model, ds.items);
      } else {
        state.epochsWithoutImprovement++;
      }
      await appendFile(join(options.out, 'metrics.jsonl'), JSON.stringify(record) + '\n');
      await writeCheckpoint(options.out, model, optimizer, state, config);
      log(`epoch ${epoch}: loss ${record.trainLoss.toFixed(4)}, valid HR@10 ${valid.metrics['HR@10']!.toFixed(4)} NDCG@10 ${ndcg.toFixed(4)} (popularity ${popularityNdcg.toFixed(4)}), ${Math.round(record.itemsPerSec)} items/s`);
    }
    if (state.epochsWithoutImprovement >= train.patience && state.epoch < train.epochs) stoppedEarly = true;
  } catch (err) {
    progress.stop();
    // A run that never completed an epoch leaves nothing behind; later failures keep the last good checkpoint.
    if (createdOut && state.epoch === 0) await rm(options.out, { recursive: true, force: true });
    else if (err instanceof TrainingError) {
      err.message += ` (the best model so far and the last checkpoint are in ${options.out})`;
    }
    throw err;
  }
  await writeFileAtomic(join(options.out, 'training.json'), JSON.stringify({ ...state, stoppedEarly }, null, 2) + '\n');
  return { epochs: state.epoch, bestEpoch: state.bestEpoch, bestValid: state.bestNdcg, stoppedEarly, history };
}
