import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { causalBatch, maskedBatch, trainingWindows } from '../../src/data/batches.js';
import { predictionInputs } from '../../src/models/user-vectors.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { Rng } from '../../src/tensor/index.js';
import { datasetFromSequences } from '../helpers/datasets.js';

describe('leave-one-out split and batching', () => {
  const ds = datasetFromSequences([[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]], 10);
  const split = leaveOneOutSplit(ds);

  it('holds out the last item for test and the second-last for validation, never training on either', () => {
    assert.deepEqual(split.train.map((s) => Array.from(s)), [[1, 2, 3], [], [8]]);
    assert.deepEqual(Array.from(split.test.targets), [5, 7, 10]);
    assert.deepEqual(split.test.histories.map((h) => Array.from(h)), [[1, 2, 3, 4], [6], [8, 9]]);
    assert.deepEqual(Array.from(split.valid.users), [0, 2]);
    assert.deepEqual(Array.from(split.valid.targets), [4, 9]);
    assert.deepEqual(split.valid.histories.map((h) => Array.from(h)), [[1, 2, 3], [8]]);
  });

  it('popularity counts only the training part', () => {
    assert.deepEqual(Array.from(itemCounts(split.train, 10)), [0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('training windows make every transition a target exactly once', () => {
    const seq = Int32Array.from({ length: 23 }, (_, i) => i + 1);
    const windows = trainingWindows([seq], 5);
    const targets = windows.flatMap((w) => Array.from(w.subarray(1))).sort((a, b) => a - b);
    assert.deepEqual(targets, Array.from({ length: 22 }, (_, i) => i + 2));
    assert.ok(windows.every((w) => w.length >= 2 && w.length <= 6));
  });

  it('causal batches are left-padded with inputs and next-item targets aligned', () => {
    const b = causalBatch([Int32Array.from([4, 5, 6]), Int32Array.from([9, 8])], 4);
    assert.deepEqual(Array.from(b.inputs), [0, 0, 4, 5, 0, 0, 0, 9]);
    assert.deepEqual(Array.from(b.targets), [0, 0, 5, 6, 0, 0, 0, 8]);
  });

  it('masked batches never mask padding and mask at least one item per sequence', () => {
    const rng = new Rng(3);
    const windows = Array.from({ length: 50 }, (_, i) => Int32Array.from({ length: 1 + (i % 6) }, (_, t) => t + 1));
    const b = maskedBatch(windows, 8, { probability: 0.3, maskToken: 11, numItems: 10 }, rng);
    let masked = 0;
    for (let r = 0; r < 50; r++) {
      const row = Array.from(b.targets.subarray(r * 8, r * 8 + 8));
      const pad = 8 - windows[r]!.length;
      assert.ok(row.slice(0, pad).every((t) => t === 0), 'padding is never a target');
      assert.ok(row.some((t) => t !== 0), 'at least one target');
      for (let i = 0; i < 8; i++) {
        if (row[i] !== 0) {
          masked++;
          assert.equal(row[i], windows[r]![i - pad], 'target is the original item');
        } else {
          assert.equal(b.inputs[r * 8 + i], i < pad ? 0 : windows[r]![i - pad], 'unmasked inputs are untouched');
        }
      }
    }
    const maskTokens = Array.from(b.inputs).filter((v) => v === 11).length;
    assert.ok(maskTokens >= 0.6 * masked, `${maskTokens} of ${masked} chosen positions became the mask token`);
  });

  it('prediction inputs keep the most recent items and end with the mask token for the masked model', () => {
    const h = [Int32Array.from([1, 2, 3, 4, 5]), Int32Array.from([7])];
    assert.deepEqual(Array.from(predictionInputs(h, 3, null)), [3, 4, 5, 0, 0, 7]);
    assert.deepEqual(Array.from(predictionInputs(h, 3, 99)), [4, 5, 99, 0, 7, 99]);
  });
});
