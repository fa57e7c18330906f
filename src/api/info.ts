/**
 * What a directory is: a base model, a task patch or a dataset — its shape, items, task, metrics and provenance,
 * read from the files graftrec wrote (`graftrec info`).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Provenance, ProvenanceSchema } from '../config/provenance.js';
import { DataError } from '../errors.js';
import { datasetHash, loadDataset } from '../data/dataset.js';
import { readSafetensors } from '../io/safetensors.js';
import { MODEL_FORMAT, readModelDirConfig } from '../train/checkpoint.js';
import { PATCH_FORMAT, ValidationVerdict, readTaskCard } from '../transfer/patchfile.js';
import { readContinualManifest } from '../continual/store.js';

export interface ModelInfo {
  kind: 'model';
  dir: string;
  backbone: string;
  objective: string;
  itemEncoder: string;
  /** The network's shape: dim, maxLen and the backbone's own (blocks, kernel size, dilations; layers, heads). */
  shape: Record<string, number | number[]>;
  items: number;
  parameters: number;
  /** The dataset directory it was trained on, as given then. */
  dataset: string;
  /** From metrics.jsonl: epochs run, the best validation NDCG@10 and its epoch; null before the first epoch. */
  training: { epochs: number; bestEpoch: number; bestValidNDCG10: number; stoppedEarly: boolean | null } | null;
  provenance: Provenance | null;
}

export interface PatchInfo {
  kind: 'patch';
  dir: string;
  task: string;
  type: string;
  strategy: string;
  insertion: string | null;
  backbone: string;
  /** classify: the label and its classes; recommend / next-item: the target domain and item count. */
  label?: string;
  classes?: string[];
  sourceDomain?: string;
  targetDomain?: string;
  targetItems?: number;
  trainedParams: number;
  totalParams: number;
  /** The test metrics finetune measured. */
  test: Record<string, unknown>;
  /** Against the strongest baseline on the validation users; null when the card does not record it. */
  verdict: ValidationVerdict | null;
  baseFingerprint: string;
  provenance: Provenance | null;
}

export interface DatasetInfo {
  kind: 'dataset';
  dir: string;
  users: number;
  items: number;
  interactions: number;
  domains: string[] | null;
  attributes: string[];
  itemText: boolean;
  itemFeatures: number | null;
  /** sha256 of its interactions, as provenance records it. */
  sha256: string;
}

export interface ContinualInfo {
  kind: 'continual';
  dir: string;
  backbone: string;
  /** The tasks in the order they were learned (the first: the base's next-item task), with what each owns. */
  tasks: { name: string; type: string; keep: number; owned: number; freeAfter: number; test: Record<string, unknown> }[];
  baseFingerprint: string;
  provenance: Provenance | null;
}

export type DirectoryInfo = ModelInfo | PatchInfo | DatasetInfo | ContinualInfo;

async function readJsonFormat(path: string): Promise<unknown> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { format?: unknown } | null)?.format;
  } catch {
    return undefined;
  }
}

/** A provenance record as stored, or null when there is none or it is not one (it never stops a description). */
function provenanceOf(value: unknown): Provenance | null {
  const parsed = ProvenanceSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

async function trainingSummary(dir: string): Promise<ModelInfo['training']> {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return null;
  const records = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { epoch: number; valid: Record<string, number> });
  if (records.length === 0) return null;
  const best = records.reduce((a, r) => ((r.valid['NDCG@10'] ?? -1) > (a.valid['NDCG@10'] ?? -1) ? r : a));
  const trainingPath = join(dir, 'training.json');
  const stoppedEarly = existsSync(trainingPath)
    ? Boolean((JSON.parse(await readFile(trainingPath, 'utf8')) as { stoppedEarly?: boolean }).stoppedEarly)
    : null;
  return { epochs: records[records.length - 1]!.epoch, bestEpoch: best.epoch, bestValidNDCG10: best.valid['NDCG@10'] ?? NaN, stoppedEarly };
}

async function modelInfo(dir: string): Promise<ModelInfo> {
  const config = await readModelDirConfig(dir);
  const m = config.model;
  const weights = await readSafetensors(join(dir, 'model.safetensors'));
  const parameters = [...weights.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const own: Record<string, number | number[]> = m.backbone === 'nextitnet'
    ? { blocks: m.blocks, kernelSize: m.kernelSize, dilations: m.dilations }
    : m.backbone === 'gru4rec' ? { layers: m.layers } : { layers: m.layers, heads: m.heads };
  return {
    kind: 'model', dir, backbone: m.backbone, objective: m.objective, itemEncoder: m.itemEncoder,
    shape: { dim: m.dim, maxLen: m.maxLen, ...own }, items: m.numItems, parameters, dataset: config.dataset,
    training: await trainingSummary(dir), provenance: provenanceOf(config.provenance),
  };
}

async function patchInfo(dir: string): Promise<PatchInfo> {
  const card = await readTaskCard(dir);
  const kind = card.type === 'classify'
    ? { label: card.label, classes: card.classes }
    : card.type === 'recommend'
      ? { sourceDomain: card.sourceDomain, targetDomain: card.targetDomain, targetItems: card.targetItems.length }
      : { targetItems: card.targetItems.length };
  return {
    kind: 'patch', dir, task: card.task, type: card.type, strategy: card.strategy, insertion: card.insertion, backbone: card.backbone,
    ...kind, trainedParams: card.trainedParams, totalParams: card.totalParams, test: card.test, verdict: card.verdict ?? null,
    baseFingerprint: card.baseFingerprint,
    provenance: provenanceOf(card.provenance),
  };
}

async function continualInfo(dir: string): Promise<ContinualInfo> {
  const manifest = await readContinualManifest(dir);
  const config = await readModelDirConfig(dir);
  return {
    kind: 'continual', dir, backbone: config.model.backbone, tasks: manifest.tasks, baseFingerprint: manifest.baseFingerprint,
    provenance: provenanceOf(manifest.provenance),
  };
}

async function datasetInfo(dir: string): Promise<DatasetInfo> {
  const ds = await loadDataset(dir);
  const m = ds.meta;
  return {
    kind: 'dataset', dir, users: m.numUsers, items: m.numItems, interactions: m.numInteractions, domains: m.domains,
    attributes: m.attributes, itemText: m.itemText !== undefined, itemFeatures: m.itemFeatures?.dim ?? null, sha256: await datasetHash(dir),
  };
}

/**
 * Describes a model, patch, continual model or dataset directory.
 *
 * @throws DataError for a path that is not a directory, or a directory that is none of the three;
 *   ModelError / DataError for one whose files are broken.
 */
export async function describeDirectory(dir: string): Promise<DirectoryInfo> {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DataError(`${dir}: no such directory`);
  }
  if (!isDir) throw new DataError(`${dir}: not a directory`);
  if (existsSync(join(dir, 'task.json')) && (await readJsonFormat(join(dir, 'task.json'))) === PATCH_FORMAT) return patchInfo(dir);
  if (existsSync(join(dir, 'continual.json'))) return continualInfo(dir);
  if (existsSync(join(dir, 'config.json')) && (await readJsonFormat(join(dir, 'config.json'))) === MODEL_FORMAT) return modelInfo(dir);
  if (existsSync(join(dir, 'dataset.json'))) return datasetInfo(dir);
  throw new DataError(`${dir}: not a graftrec model, patch or dataset directory (no model config.json, task.json or dataset.json)`);
}
