import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SparseRows, bagOfItems, inverseDocumentFrequency, itemColumns } from '../../src/baselines/bag-of-items.js';
import { minimizeLbfgs } from '../../src/baselines/lbfgs.js';
import { logisticLoss, logisticProbabilities, trainLogisticRegression } from '../../src/baselines/logistic-regression.js';

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < tolerance, `[${i}] ${actual[i]} ≠ ${e}`));
}

const ints = (rows: number[][]) => rows.map((r) => Int32Array.from(r));

describe('bag of items', () => {
  it('one L2-normalised row per user, each item once, columns for the training items only', () => {
    const train = ints([[1, 1, 2], [4]]);
    const items = itemColumns(train, 5);
    assert.deepEqual(Array.from(items.column), [-1, 0, 1, -1, 2]);
    const x = bagOfItems(train, items, null);
    assert.deepEqual(Array.from(x.indptr), [0, 2, 3]);
    assert.deepEqual(Array.from(x.indices), [0, 1, 2]);
    assertClose(x.values, [Math.SQRT1_2, Math.SQRT1_2, 1]);
    // Item 3 has no column but still counts in the norm: the row is the full-vocabulary row minus an empty column.
    const unseen = bagOfItems(ints([[4, 3]]), items, null);
    assert.deepEqual(Array.from(unseen.indices), [2]);
    assertClose(unseen.values, [Math.SQRT1_2]);
  });

  it('tf-idf: idf from the given users, smoothed as scikit-learn', () => {
    const train = ints([[1, 2], [2, 2]]);
    const idf = inverseDocumentFrequency(train, 4);
    assertClose(idf, [Math.log(3) + 1, Math.log(3 / 2) + 1, 1, Math.log(3) + 1]);
    const x = bagOfItems(ints([[1, 2, 3]]), itemColumns(train, 4), idf);
    const norm = Math.hypot(idf[1]!, idf[2]!, idf[3]!);
    assertClose(x.values, [idf[1]! / norm, idf[2]! / norm]);
  });
});

describe('L-BFGS', () => {
  it('finds the minimum of the Rosenbrock function from the textbook start', () => {
    const r = minimizeLbfgs((x, g) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    }, Float64Array.from([-1.2, 1]), { gradientTolerance: 1e-9, relativeDecrease: 0 });
    assert.ok(Math.abs(r.x[0]! - 1) < 1e-5 && Math.abs(r.x[1]! - 1) < 1e-5, `${r.x} after ${r.iterations} iterations`);
  });
});

describe('multinomial logistic regression', () => {
  // Two users, three items, two classes: user 0 is (1, 0, 0) of class 0, user 1 is (0, 0.6, 0.8) of class 1.
  const x: SparseRows = {
    rows: 2, columns: 3, indptr: Int32Array.from([0, 1, 3]), indices: Int32Array.from([0, 1, 2]), values: Float64Array.from([1, 0.6, 0.8]),
  };
  const labels = Int32Array.from([0, 1]);

  it('loss and gradient match a hand computation', () => {
    // W (feature-major, features × classes) = item 1 → (1, 0), other items 0; biases (0, 0); l2 = 0.5.
    const parameters = Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0]);
    const grad = new Float64Array(8);
    const loss = logisticLoss(x, labels, 2, 0.5, parameters, grad);
    const p = Math.E / (Math.E + 1); // user 0: logits (1, 0); user 1: logits (0, 0), so p = 1/2 each
    assert.ok(Math.abs(loss - ((-Math.log(p) + Math.log(2)) / 2 + 0.25)) < 1e-12, String(loss));
    // residual / n: user 0 (p − 1, 1 − p) / 2, user 1 (1/2, −1/2) / 2; plus l2 · W on item 1's class-0 weight.
    const r0 = [(p - 1) / 2, (1 - p) / 2];
    assertClose(grad, [r0[0]! + 0.5, r0[1]!, 0.6 * 0.25, 0.6 * -0.25, 0.8 * 0.25, 0.8 * -0.25, r0[0]! + 0.25, r0[1]! - 0.25]);
  });

  it('the gradient agrees with finite differences at a random point with three classes', () => {
    const histories = ints([[1, 2], [2, 3], [3], [1, 3]]);
    const x3 = bagOfItems(histories, itemColumns(histories, 4), null);
    const y = Int32Array.from([0, 1, 2, 1]);
    const at = Float64Array.from({ length: 12 }, (_, i) => Math.sin(3 * i + 1));
    const grad = new Float64Array(12);
    logisticLoss(x3, y, 3, 0.1, at, grad);
    for (let i = 0; i < at.length; i++) {
      const h = 1e-6;
      const [plus, minus] = [Float64Array.from(at), Float64Array.from(at)];
      plus[i]! += h;
      minus[i]! -= h;
      const scratch = new Float64Array(12);
      const numeric = (logisticLoss(x3, y, 3, 0.1, plus, scratch) - logisticLoss(x3, y, 3, 0.1, minus, scratch)) / (2 * h);
      assert.ok(Math.abs(numeric - grad[i]!) < 1e-7, `parameter ${i}: ${numeric} vs ${grad[i]}`);
    }
  });

  it('a fit separates separable users; a stronger penalty pulls probabilities towards the class frequencies', () => {
    const weak = logisticProbabilities(trainLogisticRegression(x, labels, 2, 1e-3), x);
    assert.ok(weak[0]! > 0.9 && weak[3]! > 0.9, String(weak));
    const strong = logisticProbabilities(trainLogisticRegression(x, labels, 2, 100), x);
    for (const p of strong) assert.ok(Math.abs(p - 0.5) < 0.01, String(strong));
    assert.throws(() => trainLogisticRegression(x, Int32Array.from([0, 2]), 2, 1), /label 2 outside 0\.\.1/);
  });
});
