/**
 * The PeterRec comparison the transfer issue targets, on a small synthetic config that is deterministic for its
 * seeds, averaged over four fine-tuning seeds (one seed's 300 test users give about ±2.5 points of sampling noise;
 * the mean of 4 × 300 users still carries ~1.2 points, and the BLAS and builtin GEMMs round differently). The
 * strategies' means sit within about one point of each other here (with the item bag the head reads the planted
 * attribute off the items under every strategy), so an exact ordering would be a coin toss: the test asserts what
 * the noise allows — peterrec within 2 points of the best of fine-all, fine-cls and peter-zero, and well above the
 * majority class. The real-data tables in the README carry the orderings, with standard deviations.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, ModelConfigSchema, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng } from '../../src/tensor/index.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { finetuneClassifier } from '../../src/transfer/classify.js';
import { graftPatches } from '../../src/transfer/insertion.js';
import { STRATEGIES, Strategy, applyStrategy } from '../../src/transfer/strategies.js';
import { taskHead } from '../../src/transfer/head.js';
import { tempDir } from '../helpers/datasets.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';

let data: Dataset;
let modelDir: string;

before(async () => {
  const root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 1500, items: 200, domains: 1, seed: 3 });
  await ingest({ input: join(root, 'raw', 'interactions.csv'), attributes: join(root, 'raw', 'users.csv'), out: join(root, 'ds') });
  data = await loadDataset(join(root, 'ds'));
  modelDir = join(root, 'model');
  await pretrain({
    data: join(root, 'ds'), out: modelDir, model: { ...MODEL_DEFAULTS, dim: 32, blocks: 4, maxLen: 30 },
    train: { ...TRAIN_DEFAULTS, epochs: 8, batch: 64, lr: 0.003 }, log: () => {},
  });
});

describe('PeterRec against the fine-tuning baselines', () => {
  it('peterrec within 2 points of the best other strategy and well above the majority class, mean of four seeds', async () => {
    const mean: Partial<Record<Strategy | 'majority', number>> = {};
    for (const strategy of ['peterrec', 'fine-all', 'fine-cls', 'peter-zero'] as const) {
      let sum = 0;
      let majority = 0;
      for (const seed of [1, 2, 3, 4]) {
        const base = await loadModelDir(modelDir);
        const model = strategy === 'peter-zero' ? new NextItNet(base.config.model, new Rng(seed)) : base.model;
        const { test } = finetuneClassifier({
          ...TUNING_DEFAULTS, model, dataset: data, datasetName: 'synth', label: 'gender', bins: null, strategy, insertion: 'serial-each-conv',
          epochs: 10, batch: 64, lr: 0.003, patience: 3, testFraction: 0.2, seed,
        });
        sum += test.accuracy;
        majority += test.majorityAccuracy;
      }
      mean[strategy] = sum / 4;
      mean.majority = majority / 4;
    }
    const m = mean as Record<string, number>;
    const report = JSON.stringify(m);
    assert.ok(m.peterrec! >= Math.max(m['fine-all']!, m['fine-cls']!, m['peter-zero']!) - 0.02, report);
    assert.ok(m.peterrec! > m.majority! + 0.1, report);
  });

  it('at the default shape and a 10,000-item vocabulary peterrec trains under 10% of what fine-all trains', () => {
    // fine-all's count is dominated by the item embedding, so the ratio falls with the vocabulary (13% at 1,000 items).

    const config = ModelConfigSchema.parse({ ...MODEL_DEFAULTS, numItems: 10_000 });
    const trained: Record<string, number> = {};
    for (const strategy of STRATEGIES) {
      const model = new NextItNet(config, new Rng(1));
      const patches = strategy === 'peterrec' || strategy === 'peter-zero' ? graftPatches(model, 'serial-each-conv', new Rng(2)) : [];
      trained[strategy] = applyStrategy(strategy, model, patches, taskHead(2, config.dim, new Rng(3)).parameters()).reduce((n, p) => n + p.size, 0);
    }
    assert.ok(trained.peterrec! <= 0.1 * trained['fine-all']!, JSON.stringify(trained));
    assert.ok(trained['fine-cls']! < trained.peterrec!);
  });
});
