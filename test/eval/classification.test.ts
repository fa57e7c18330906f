import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, argmaxRows, binaryAuc, classifierScores, logLoss, macroF1, majorityAccuracy } from '../../src/eval/classification.js';

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

  it('argmax of class probabilities (ties: the lower class), log-loss and the scores of a probability table', () => {
    const probs = [0.2, 0.8, 0.5, 0.5, 0.9, 0.1, 0, 1];
    assert.deepEqual(Array.from(argmaxRows(probs, 2)), [1, 0, 0, 1]);
    const labels = Int32Array.from([1, 1, 0, 0]);
    const expected = -(Math.log(0.8) + Math.log(0.5) + Math.log(0.9) + Math.log(1e-12)) / 4;
    assert.ok(Math.abs(logLoss(probs, labels, 2) - expected) < 1e-12, 'a probability of 0 counts as 1e-12');
    const scores = classifierScores(probs, labels, 2);
    assert.equal(scores.accuracy, 0.5);
    assert.equal(scores.macroF1, macroF1([1, 0, 0, 1], labels, 2));
    assert.equal(scores.auc, binaryAuc([0.8, 0.5, 0.1, 1], labels));
  });
});
