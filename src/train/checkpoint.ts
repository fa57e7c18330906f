/**
 * Model directories and resumable checkpoints.
 *
 *   MODEL/config.json          model + training config, dataset vocabulary fingerprint, provenance (who made it
 *                              from what: config/provenance.ts)
 *   MODEL/model.safetensors    the best weights so far (by validation NDCG@10)
 *   MODEL/items.json           the item vocabulary (raw ids, index i + 1 = items[i])
 *   MODEL/item-tokens.safetensors
 *                              text item encoders: the items' token ids (I32 `offsets`, `tokens`, CSR over item
 *                              indices 0..numItems), so the model scores without its dataset's text files
 *   MODEL/metrics.jsonl        one line per epoch
 *   MODEL/checkpoint/          the latest epoch: weights, optimizer moments, trainer state (for --resume); its
 *                              weights include training-only modules (a contrastive projection head), which the
 *                              base model in MODEL/model.safetensors leaves out
 *
 * Every file is written to a temporary name and renamed; the checkpoint directory is replaced as a whole, so a
 * run killed at any moment leaves the previous complete checkpoint.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Provenance } from '../config/provenance.js';
import { ModelConfig, ModelConfigSchema, TrainConfig, TrainConfigSchema, usesText } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { TensorMap, encodeSafetensors, floatTensors, readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { Dataset } from '../data/dataset.js';
import { loadDatasets } from '../data/merge.js';
import { TokenizerSpec, sameTokenizer } from '../data/text/tokenize.js';
import { ItemSideInfo, ItemTokens } from '../models/item-encoder.js';
import { ItemFeatures } from '../models/feature-encoder.js';
import { UserEncoder } from '../models/encoder.js';
import { createEncoder } from '../models/encoders.js';
import { Module } from '../nn/module.js';
import { Adam, Parameter, Rng } from '../tensor/index.js';

export const MODEL_FORMAT = 'graftrec-model';

export interface ModelDirConfig {
  format: typeof MODEL_FORMAT;
  version: 1;
  model: ModelConfig;
  train: TrainConfig;
  /** sha256 of the item vocabulary: a dataset must have exactly this vocabulary to be used with the model. */
  vocabularyHash: string;
  dataset: string;
  /** Text item encoders: the tokenizer the item tokens were made with (a dataset must use the same one). */
  itemText?: { tokenizer: TokenizerSpec };
  /** What produced the weights (absent in models written before it was recorded). */
  provenance?: Provenance;
}

export interface TrainerState {
  /** Epochs completed. */
  epoch: number;
  step: number;
  rngState: number[];
  /** The auxiliary loss terms' stream (views, held-out items); absent in checkpoints written before it had its own. */
  augmentRngState?: number[];
  bestNdcg: number;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  trainSeconds: number;
}

export function vocabularyHash(items: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(items)).digest('hex');
}

export function parameterTensors(params: readonly Parameter[]): TensorMap {
  return new Map(params.map((p) => [p.name, { dtype: 'F32' as const, shape: [...p.shape], data: p.data }]));
}

export async function writeModelFiles(dir: string, config: ModelDirConfig, model: UserEncoder, items: readonly string[]): Promise<void> {
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFileAtomic(join(dir, 'items.json'), JSON.stringify(items));
  await writeSafetensors(join(dir, 'model.safetensors'), parameterTensors(model.parameters()), { format: 'pt', backbone: model.backbone });
  const tokens = model.items.itemTokens;
  if (tokens) {
    await writeSafetensors(join(dir, ITEM_TOKENS_FILE), new Map([
      ['offsets', { dtype: 'I32' as const, shape: [tokens.offsets.length], data: tokens.offsets }],
      ['tokens', { dtype: 'I32' as const, shape: [tokens.tokens.length], data: tokens.tokens }],
    ]));
  }
  const features = model.items.itemFeatures;
  if (features) {
    await writeSafetensors(join(dir, ITEM_FEATURES_FILE), new Map([
      ['vectors', { dtype: 'F32' as const, shape: [features.vectors.length / features.dim, features.dim], data: features.vectors }],
    ]));
  }
}

const ITEM_TOKENS_FILE = 'item-tokens.safetensors';
const ITEM_FEATURES_FILE = 'item-features.safetensors';

/** The files of a model directory that describe the network and its items (everything but weights and training logs). */
export const MODEL_DESCRIPTION_FILES = ['config.json', 'items.json', ITEM_TOKENS_FILE, ITEM_FEATURES_FILE] as const;

async function readItemFeatures(dir: string): Promise<ItemFeatures> {
  const path = join(dir, ITEM_FEATURES_FILE);
  if (!existsSync(path)) throw new ModelError(`${path}: missing (the model encodes items by their vectors)`);
  const vectors = (await readSafetensors(path)).tensors.get('vectors');
  if (vectors?.dtype !== 'F32' || vectors.shape.length !== 2) throw new ModelError(`${path}: needs an F32 tensor vectors [items + 1, dim]`);
  return { dim: vectors.shape[1]!, vectors: vectors.data };
}

/** What the model's item encoder reads besides ids, from its directory. */
async function readItemSide(dir: string, config: ModelConfig): Promise<ItemSideInfo | null> {
  if (config.itemEncoder === 'features') return readItemFeatures(dir);
  return usesText(config.itemEncoder) ? readItemTokens(dir) : null;
}

async function readItemTokens(dir: string): Promise<ItemTokens> {
  const path = join(dir, ITEM_TOKENS_FILE);
  if (!existsSync(path)) throw new ModelError(`${path}: missing (the model encodes items by their text)`);
  const { tensors } = await readSafetensors(path);
  const offsets = tensors.get('offsets');
  const tokens = tensors.get('tokens');
  if (offsets?.dtype !== 'I32' || tokens?.dtype !== 'I32') throw new ModelError(`${path}: needs I32 tensors offsets and tokens`);
  return { offsets: offsets.data, tokens: tokens.data };
}

/** `modules`: everything being trained (the model, and any training-only module such as a projection head). */
export async function writeCheckpoint(dir: string, modules: readonly Module[], optimizer: Adam, state: TrainerState,
  config: ModelDirConfig): Promise<void> {
  const opt = optimizer.state();
  const moments: TensorMap = new Map();
  for (const [name, m] of opt.moments) {
    moments.set(`m.${name}`, { dtype: 'F32', shape: [m.m.length], data: m.m });
    moments.set(`v.${name}`, { dtype: 'F32', shape: [m.v.length], data: m.v });
  }
  await writeDirAtomic(join(dir, 'checkpoint'), async (tmp) => {
    await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(parameterTensors(modules.flatMap((m) => m.parameters()))));
    await writeFile(join(tmp, 'optimizer.safetensors'), encodeSafetensors(moments, { step: String(opt.step) }));
    await writeFile(join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    await writeFile(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  });
}

async function readJson(path: string): Promise<unknown> {
  if (!existsSync(path)) throw new ModelError(`${path}: missing`);
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ModelError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

export async function readModelDirConfig(dir: string, file = 'config.json'): Promise<ModelDirConfig> {
  const path = join(dir, file);
  if (!existsSync(dir)) throw new ModelError(`${dir}: no such model directory`);
  if (!existsSync(path)) throw new ModelError(`${dir}: not a graftrec model (no ${file})`);
  const raw = (await readJson(path)) as Partial<ModelDirConfig>;
  if (raw.format !== MODEL_FORMAT) throw new ModelError(`${path}: not a graftrec model config (format ${String(raw.format)})`);
  const model = ModelConfigSchema.safeParse(raw.model);
  const train = TrainConfigSchema.safeParse(raw.train);
  if (!model.success) throw new ModelError(`${path}: invalid model config: ${model.error.issues[0]?.message ?? ''}`);
  if (!train.success) throw new ModelError(`${path}: invalid train config: ${train.error.issues[0]?.message ?? ''}`);
  return { ...(raw as ModelDirConfig), model: model.data, train: train.data };
}

export interface LoadedModel {
  config: ModelDirConfig;
  model: UserEncoder;
  items: string[];
}

/**
 * Loads MODEL (config, vocabulary, best weights); all parameters start trainable. `weightsFile`: another weights
 * file beside the same config (a continual model's shared weights).
 */
export async function loadModelDir(dir: string, weightsFile = 'model.safetensors'): Promise<LoadedModel> {
  const config = await readModelDirConfig(dir);
  const items = (await readJson(join(dir, 'items.json'))) as string[];
  if (!Array.isArray(items) || items.length !== config.model.numItems) {
    throw new ModelError(`${join(dir, 'items.json')}: ${Array.isArray(items) ? items.length : 'no'} items, config says ${config.model.numItems}`);
  }
  const model = createEncoder(config.model, new Rng(0), await readItemSide(dir, config.model));
  const weightsPath = join(dir, weightsFile);
  const weights = await readSafetensors(weightsPath);
  // Weights written before backbones were recorded are NextItNet's.
  const stored = weights.metadata.backbone ?? 'nextitnet';
  if (stored !== model.backbone) {
    throw new ModelError(`${weightsPath}: holds a ${stored} model, but ${join(dir, 'config.json')} says ${model.backbone}; refusing to load it`);
  }
  model.loadValues(floatTensors(weights, weightsPath), weightsPath);
  return { config, model, items };
}

export interface LoadedCheckpoint {
  state: TrainerState;
  config: ModelDirConfig;
}

/** Restores weights and optimizer moments from MODEL/checkpoint into `modules` (as written) and `optimizer`. */
export async function loadCheckpoint(dir: string, modules: readonly Module[], optimizer: Adam): Promise<LoadedCheckpoint> {
  const ckpt = join(dir, 'checkpoint');
  if (!existsSync(ckpt)) throw new ModelError(`${dir}: no checkpoint to resume from (missing ${ckpt})`);
  const config = await readModelDirConfig(ckpt);
  const weightsPath = join(ckpt, 'model.safetensors');
  const weights = floatTensors(await readSafetensors(weightsPath), weightsPath);
  for (const m of modules) m.loadValues(weights, weightsPath);
  const optPath = join(ckpt, 'optimizer.safetensors');
  const opt = await readSafetensors(optPath);
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const p of modules.flatMap((module) => module.parameters())) {
    const m = opt.tensors.get(`m.${p.name}`);
    const v = opt.tensors.get(`v.${p.name}`);
    if (!m || !v || m.dtype !== 'F32' || v.dtype !== 'F32') continue;
    moments.set(p.name, { m: m.data, v: v.data });
  }
  const step = Number(opt.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new ModelError(`${optPath}: missing optimizer step count`);
  optimizer.loadState({ step, moments });
  const state = (await readJson(join(ckpt, 'state.json'))) as TrainerState;
  return { state, config };
}

/** A model can only score a dataset whose item vocabulary is exactly the one it was trained on. */
export function assertSameVocabulary(config: ModelDirConfig, items: readonly string[], modelDir: string, dataDir: string): void {
  if (vocabularyHash(items) !== config.vocabularyHash) {
    throw new ModelError(`${dataDir}: its item vocabulary (${items.length} items) does not match the model in ${modelDir} (${config.model.numItems} items, trained on ${config.dataset})`);
  }
}

/**
 * Loads the dataset at dataDir, which must have exactly the item vocabulary of the model in modelDir and, for a
 * model that encodes items by text, item text tokenised the same way.
 */
export async function loadDatasetFor(config: ModelDirConfig, modelDir: string, dataDir: string): Promise<Dataset> {
  // A model pretrained on several datasets (a,b) is evaluated on the same merge.
  const ds = await loadDatasets(dataDir);
  assertSameVocabulary(config, ds.items, modelDir, dataDir);
  assertItemTextFor(config, ds, modelDir, dataDir);
  return ds;
}

/** What an item encoder of `kind` reads about a dataset's items (null for the id encoder, or when it lacks them). */
export function datasetItemSide(ds: Dataset, kind: ModelConfig['itemEncoder']): ItemSideInfo | null {
  if (kind === 'features') return ds.meta.itemFeatures && ds.itemFeatures ? { dim: ds.meta.itemFeatures.dim, vectors: ds.itemFeatures } : null;
  return usesText(kind) ? ds.itemText?.tokens ?? null : null;
}

/**
 * A model with a text item encoder needs data with item text from the same tokenizer; one with the features
 * encoder, data with item vectors of its length.
 */
export function assertItemTextFor(config: Pick<ModelDirConfig, 'model' | 'itemText'>, ds: Dataset, modelDir: string, dataDir: string): void {
  if (config.model.itemEncoder === 'features') {
    const f = ds.meta.itemFeatures;
    if (!f) throw new ModelError(`${dataDir}: has no item vectors, which the features item encoder of ${modelDir} needs; ingest it with --item-features`);
    if (f.dim !== config.model.featureDim) throw new ModelError(`${dataDir}: its item vectors have ${f.dim} floats, the model in ${modelDir} reads ${config.model.featureDim}`);
    return;
  }
  if (!usesText(config.model.itemEncoder)) return;
  const text = ds.meta.itemText;
  if (!text) throw new ModelError(`${dataDir}: has no item text, which the ${config.model.itemEncoder} item encoder of ${modelDir} needs; ingest it with --item-text`);
  if (config.itemText && !sameTokenizer(text.tokenizer, config.itemText.tokenizer)) {
    throw new ModelError(`${dataDir}: its item text was tokenised into ${text.tokenizer.buckets} buckets, the model in ${modelDir} uses ${config.itemText.tokenizer.buckets}`);
  }
}
