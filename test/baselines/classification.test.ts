import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PENALTY_GRID, classificationBaselines } from '../../src/baselines/classification.js';
import { splitUsers } from '../../src/data/split.js';
import { Rng } from '../../src/tensor/index.js';
import { datasetFromSequences } from '../helpers/datasets.js';

/** Users of two classes; each picks 8 of 40 items, from its class's half when `separable`, else from all. */
function users(n: number, separable: boolean, seed: number) {
  const rng = new Rng(seed);
  const labels = Int32Array.from({ length: n }, () => (rng.uniform() < 0.7 ? 0 : 1));
  const sequences = Array.from(labels, (y) => Array.from({ length: 8 }, () => (separable ? 1 + 20 * y + rng.int(0, 20) : rng.int(1, 41))));
  return { dataset: datasetFromSequences(sequences, 40), labels, split: splitUsers(labels, 0.2, seed) };
}

describe('classification baselines', () => {
  it('logistic regression on items separates separable users with a weak penalty, chosen on validation', () => {
    const { dataset, labels, split } = users(300, true, 1);
    const b = classificationBaselines(dataset, labels, split, 2);
    assert.equal(b.logisticRegression.accuracy, 1, JSON.stringify(b));
    assert.equal(b.logisticRegression.auc, 1);
    assert.ok(b.majority.accuracy > 0.55 && b.majority.accuracy < 0.85, JSON.stringify(b.majority));
    assert.equal(b.majority.auc, 0.5);
    assert.ok(b.logisticRegression.l2 * split.train.length <= 1, `penalty ${b.logisticRegression.l2 * split.train.length}`);
  });

  it('on labels unrelated to the items it falls back to the majority rate with a strong penalty', () => {
    // Enough validation users (240) that chance patterns do not pass for signal.
    const { dataset, labels, split } = users(3000, false, 2);
    const b = classificationBaselines(dataset, labels, split, 2);
    assert.ok(Math.abs(b.logisticRegression.accuracy - b.majority.accuracy) <= 0.03, JSON.stringify(b));
    assert.ok(b.logisticRegression.l2 * split.train.length >= 10, `penalty ${b.logisticRegression.l2 * split.train.length}`);
    assert.ok(PENALTY_GRID.some((p) => Math.abs(p - b.logisticRegression.l2 * split.train.length) < 1e-9));
  });

  it('is deterministic and only reads the users of the split', () => {
    const { dataset, labels, split } = users(200, true, 3);
    const first = classificationBaselines(dataset, labels, split, 2);
    const outside = Int32Array.from(labels);
    outside.fill(-1);
    for (const part of [split.train, split.valid, split.test]) for (const u of part) outside[u] = labels[u]!;
    assert.deepEqual(classificationBaselines(dataset, outside, split, 2), first);
  });
});
