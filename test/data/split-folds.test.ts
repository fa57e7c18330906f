import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FOLD, splitUsers } from '../../src/data/split.js';
import { seedFolds } from '../../src/transfer/experiment.js';

/** 103 users, every fifth unlabelled (they are in no part of any split). */
const labels = Int32Array.from({ length: 103 }, (_, u) => (u % 5 === 4 ? -1 : u % 3));
const sorted = (a: Iterable<number>) => [...a].sort((x, y) => x - y);

describe('validation folds', () => {
  it('rotate the validation users through the non-test users; the test users stay', () => {
    for (const count of [2, 3, 10]) {
      const splits = Array.from({ length: count }, (_, index) => splitUsers(labels, 0.2, 7, { index, count }));
      const rest = sorted([...splits[0]!.train, ...splits[0]!.valid]);
      for (const s of splits) {
        assert.deepEqual(sorted(s.test), sorted(splits[0]!.test));
        assert.deepEqual(sorted([...s.train, ...s.valid]), rest, 'train and validation are the non-test users');
        assert.ok(s.valid.every((u) => !s.train.includes(u)));
        assert.ok(s.valid.every((u) => labels[u]! >= 0));
      }
      // Each non-test user validates in exactly one fold, and the folds are of near-equal size.
      assert.deepEqual(sorted(splits.flatMap((s) => [...s.valid])), rest);
      const sizes = splits.map((s) => s.valid.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} folds: ${sizes}`);
    }
  });

  it('fold 0 of ten is the usual split, and a bad fold is refused', () => {
    const usual = splitUsers(labels, 0.2, 7);
    const first = splitUsers(labels, 0.2, 7, { index: 0, count: 10 });
    assert.deepEqual(DEFAULT_FOLD, { index: 0, count: 10 });
    for (const part of ['train', 'valid', 'test'] as const) assert.deepEqual([...first[part]], [...usual[part]], part);
    assert.throws(() => splitUsers(labels, 0.2, 7, { index: 3, count: 3 }), /fold 3 of 3/);
    assert.throws(() => splitUsers(labels, 0.2, 7, { index: 0, count: 1 }), /need 2 or more folds/);
  });

  it('an experiment runs each seed once, or once per fold; the next-item task refuses folds', () => {
    const classify = { type: 'classify' as const, label: 'x', bins: null };
    assert.deepEqual(seedFolds({ seeds: [1, 2], spec: classify }), [{ seed: 1 }, { seed: 2 }]);
    assert.deepEqual(seedFolds({ seeds: [4], folds: 2, spec: classify }),
      [{ seed: 4, fold: { index: 0, count: 2 } }, { seed: 4, fold: { index: 1, count: 2 } }]);
    assert.throws(() => seedFolds({ seeds: [1], folds: 3, spec: { type: 'next-item', negatives: 0, ks: [10], newItems: 0 } }), /--folds: the next-item task/);
  });
});
