import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { tempDir } from '../helpers/datasets.js';

describe('synthetic data end to end (synth → ingest → pretrain → evaluate)', () => {
  it('a trained model beats popularity on HR@10 by a wide margin', async () => {
    const root = tempDir();
    const raw = join(root, 'raw');
    await writeSynthetic(raw, { users: 800, items: 300, domains: 1, seed: 7 });
    const data = join(root, 'ds');
    await ingest({ input: join(raw, 'interactions.csv'), out: data, userCol: 'user', itemCol: 'item', timeCol: 'timestamp' });
    const out = join(root, 'model');
    await pretrain({
      data, out,
      model: { ...MODEL_DEFAULTS, dim: 32, blocks: 2, maxLen: 20 },
      train: { ...TRAIN_DEFAULTS, epochs: 6, batch: 64, lr: 0.003, negatives: 0, seed: 1 },
    });
    const { model } = await loadModelDir(out);
    const ds = await loadDataset(data);
    const split = leaveOneOutSplit(ds);
    const r = evaluateNextItem(model, split.test, itemCounts(split.train, ds.meta.numItems), { ks: [10], maskHistory: false });
    const modelHr = r.metrics['HR@10']!;
    const popHr = r.popularity!['HR@10']!;
    assert.ok(modelHr > 2 * popHr && modelHr - popHr > 0.1, `model HR@10 ${modelHr.toFixed(3)} vs popularity ${popHr.toFixed(3)}`);
  });
});
