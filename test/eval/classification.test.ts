import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, binaryAuc, macroF1, majorityAccuracy } from '../../src/eval/classification.js';

describe('classification metrics', () => {
  it('hand-computed accuracy and macro-F1', () => {
    const actual = [0, 0, 1, 1, 2];
    const predicted = [0, 1, 1, 1, 0];
    assert.equal(accuracy(predicted, actual), 3 / 5);
    // class 0: tp1 fp1 fn1 → 0.5; class 1: tp2 fp1 fn0 → 0.8; class 2: tp0 → 0
    assert.ok(Math.abs(macroF1(predicted, actual, 3) - (0.5 + 0.8 + 0) / 3) < 1e-12);
  });

  it('AUC: perfect, reversed, ties counted half, undefined for one class', () => {
    assert.equal(binaryAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(binaryAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(binaryAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    assert.equal(binaryAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    assert.ok(Number.isNaN(binaryAuc([0.1, 0.2], [1, 1])));
  });

  it('majority-class accuracy uses the training labels', () => {
    assert.equal(majorityAccuracy([1, 1, 0], [1, 0, 0, 0], 2), 0.25);
  });
});
