/** Base models: pretraining one, loading one from its directory, and its next-item metrics. */
import { z } from 'zod';
import { ModelOptions, TrainConfigSchema } from '../config/schema.js';
import { itemCounts, leaveOneOutSplit } from '../data/split.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { ItemTextFile, withItemTextFile } from '../train/catalogue.js';
import { LoadedModel, loadDatasetFor, loadModelDir } from '../train/checkpoint.js';
import { PretrainResult, pretrain as pretrainModel } from '../train/pretrain.js';
import { baseFingerprint } from '../transfer/patchfile.js';
import { parseOptions } from './options.js';
import { ProgressCallback, progressTo } from './progress.js';

/**
 * A base model loaded from its directory: its config (model, training, provenance), item vocabulary (raw ids;
 * item index i + 1 is items[i]) and network. One loaded model can serve any number of patches.
 */
export interface Model extends LoadedModel {
  /** The directory it was loaded from. */
  dir: string;
  /** sha256 of its weights file: patches record it and load only onto this model. */
  fingerprint: string;
  /**
   * Loaded with `itemText`: the model as trained, without the new items. Datasets are read and patches loaded in
   * its vocabulary; this model shares its weights and ranks its items followed by the new ones.
   */
  trained?: Model;
}

/**
 * Loads a model directory written by {@link pretrain} (or `graftrec pretrain`).
 *
 * @param options - itemText: a table of new items a text model scores (and embeds) by their text alone, after its own.
 * @throws ModelError when `dir` is not a graftrec model or its files disagree, or `itemText` is given for a model
 *   that does not encode items by text; DataError for an unreadable item table.
 */
export async function loadModel(dir: string, options: { itemText?: ItemTextFile } = {}): Promise<Model> {
  const loaded = await loadModelDir(dir);
  const trained: Model = { ...loaded, dir, fingerprint: await baseFingerprint(dir) };
  if (!options.itemText) return trained;
  const { base } = await withItemTextFile(loaded, options.itemText, dir);
  return { ...base, dir, fingerprint: trained.fingerprint, trained };
}

/** A model given by its directory, or already loaded. */
export type ModelRef = Model | string;

export async function resolveModel(model: ModelRef): Promise<Model> {
  return typeof model === 'string' ? loadModel(model) : model;
}

export interface PretrainOptions {
  /** Dataset directory from {@link ingest} or `graftrec ingest`. */
  data: string;
  /** Model directory to create (must not exist or be empty, unless `resume`). */
  out: string;
  /**
   * Model hyperparameters; every one left out takes its default from the config schema (nextitnet, 64 channels,
   * 8 blocks, dilations 1,4, maxLen 50, …; dim/layers/heads/dropout/objective per backbone).
   */
  model?: ModelOptions;
  /** Training settings; defaults from the config schema (20 epochs, batch 128, lr 1e-3, full softmax, seed 1, patience 3, …). */
  train?: z.input<typeof TrainConfigSchema>;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  /** Called as batches finish (nothing is printed without it). */
  onProgress?: ProgressCallback;
  /** Called with one line per epoch (loss, validation metrics) and resume notes. */
  onLog?: (line: string) => void;
  /** Aborting stops between two steps; the last complete epoch's checkpoint stays for `resume`. */
  signal?: AbortSignal;
}

export interface PretrainSummary extends PretrainResult {
  out: string;
}

/**
 * Pretrains a user model on a dataset: leave-one-out split, validation NDCG@10 after every epoch, early stopping,
 * the best weights in `out/model.safetensors`, provenance in `out/config.json`. Same seed, same machine ⇒ same
 * numbers.
 *
 * @returns epochs run, the best epoch and its validation NDCG@10, popularity's on the same users, and one record
 *   per epoch.
 * @throws DataError for invalid options; ModelError / TrainingError for a model that cannot be trained.
 */
export async function pretrain(options: PretrainOptions): Promise<PretrainSummary> {
  const train = parseOptions(TrainConfigSchema, options.train, 'pretrain: train');
  const result = await pretrainModel({
    data: options.data, out: options.out, model: options.model ?? {}, train, resume: options.resume ?? false,
    progress: progressTo(options.onProgress), log: options.onLog, signal: options.signal,
  });
  return { out: options.out, ...result };
}

export interface EvaluateOptions {
  /** The dataset the model was trained on (the same item vocabulary). */
  data: string;
  /** test: each user's last item (default); valid: the second-last. */
  split?: 'test' | 'valid';
  /** Cut-offs (default 5, 10, 20). */
  ks?: number[];
  /** Remove items already in the user's history from the candidates (default false). */
  maskHistory?: boolean;
  /** Rank among the target and N random negatives instead of all items (paper comparisons only). */
  sampled?: number;
  /** Seed of the sampled negatives (default 1). */
  seed?: number;
}

const EvaluateSchema = z.object({
  data: z.string().min(1),
  split: z.enum(['test', 'valid']).default('test'),
  ks: z.array(z.number().int().positive()).nonempty().default([5, 10, 20]),
  maskHistory: z.boolean().default(false),
  sampled: z.number().int().positive().optional(),
  seed: z.number().int().min(0).default(1),
});

export interface Evaluation {
  split: 'test' | 'valid';
  /** Users evaluated and candidate items. */
  users: number;
  items: number;
  /** How targets were ranked, in words (full ranking or sampled). */
  protocol: string;
  historyMasked: boolean;
  /** HR@k, NDCG@k, MRR@k of the model. */
  metrics: Record<string, number>;
  /** The same metrics of recommending the most popular training items, on the same users. */
  popularity: Record<string, number>;
}

/**
 * Next-item metrics by full ranking over all items on the leave-one-out split, with the popularity baseline.
 *
 * @param model - a loaded model or its directory.
 * @throws ModelError when the dataset's vocabulary is not the model's.
 */
export async function evaluate(model: ModelRef, options: EvaluateOptions): Promise<Evaluation> {
  const o = parseOptions(EvaluateSchema, options, 'evaluate');
  const loaded = await resolveModel(model);
  // New items by text have no clicks to evaluate on: the model as trained is measured.
  const m = loaded.trained ?? loaded;
  const ds = await loadDatasetFor(m.config, m.dir, o.data);
  const split = leaveOneOutSplit(ds);
  const counts = itemCounts(split.train, m.config.model.numItems);
  const result = evaluateNextItem(m.model, o.split === 'test' ? split.test : split.valid, counts, {
    ks: o.ks, maskHistory: o.maskHistory, sampledNegatives: o.sampled, seed: o.seed,
  });
  return {
    split: o.split, users: result.users, items: result.items, protocol: result.protocol, historyMasked: result.historyMasked,
    metrics: result.metrics, popularity: result.popularity!,
  };
}
