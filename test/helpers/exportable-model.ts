/** A small model trained for a few steps through the CLI, and real histories of lengths 1..maxLen, for export tests. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Backbone } from '../../src/config/schema.js';
import { loadDataset, userSequence } from '../../src/data/dataset.js';
import { Rng } from '../../src/tensor/index.js';
import { LoadedModel, loadModelDir } from '../../src/train/checkpoint.js';
import { cliSyntheticDataset, runCli } from './cli.js';
import { tempDir } from './datasets.js';


export interface ExportableModel {
  dir: string;
  /** The dataset (with the synthetic users' attributes, for classify tasks). */
  data: string;
  model: string;
  loaded: LoadedModel;
  maxLen: number;
  histories: Int32Array[];
}

/**
 * `backbone`: nextitnet (3 blocks, dilations 1,2,4), sasrec or bert4rec (2 layers, 2 heads) or gru4rec (2 layers);
 * 16 channels each. `extra`: more pretrain flags.
 */
export async function trainExportableModel(backbone: Backbone = 'nextitnet', maxLen = 20, ...extra: string[]): Promise<ExportableModel> {
  const dir = tempDir();
  const ds = cliSyntheticDataset(dir, '--users', '150', '--items', '60', '--domains', '1', '--mean-length', '14');
  const model = join(dir, 'model');
  // Dilations 1,2,4 with kernel 3: a wrong dilation or tap order changes the vectors of long enough histories.
  const shape = backbone === 'nextitnet' ? ['--blocks', '3', '--dilations', '1,2,4']
    : backbone === 'gru4rec' ? ['--layers', '2'] : ['--layers', '2', '--heads', '2'];
  const p = runCli('pretrain', '--data', ds, '--out', model, '--backbone', backbone, '--dim', '16', ...shape,
    '--max-len', String(maxLen), '--epochs', '2', '--lr', '0.01', '--seed', '5', '--threads', '1', '--quiet', ...extra);
  assert.equal(p.status, 0, p.stderr);
  const loaded = await loadModelDir(model);
  // Real histories, cut to lengths 1..maxLen (their last items, as graftrec reads a history).
  const data = await loadDataset(ds);
  const rng = new Rng(11);
  const histories = Array.from({ length: 48 }, (_, i) => {
    const h = userSequence(data, i % data.users.length);
    const n = Math.min(h.length, i < maxLen ? i + 1 : 1 + Math.floor(rng.uniform() * maxLen));
    return h.subarray(h.length - n);
  });
  return { dir, data: ds, model, loaded, maxLen, histories };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Histories left-padded with 0 to `length` columns, as an exported graph's items input. */
export function paddedItems(hs: readonly Int32Array[], length: number): ort.Tensor {
  const ids = new BigInt64Array(hs.length * length);
  hs.forEach((h, b) => h.forEach((v, i) => { ids[b * length + length - h.length + i] = BigInt(v); }));
  return new ort.Tensor('int64', ids, [hs.length, length]);
}

/** The outputs of an exported graph for `hs` left-padded to `length`. */
export async function runOnnx(bytes: Uint8Array, hs: readonly Int32Array[], length: number): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes);
  return session.run({ items: paddedItems(hs, length) });
}
