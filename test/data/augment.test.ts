import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AugmentationRates, augmentSequence, checkAugmentationRates, twoViews } from '../../src/data/augment.js';
import { DataError } from '../../src/errors.js';
import { Rng } from '../../src/tensor/index.js';

const seq = Int32Array.from({ length: 20 }, (_, i) => i + 1);
const only = (over: Partial<AugmentationRates>): AugmentationRates => ({ crop: 1, maskRate: 0, reorder: 0, ...over });
const sorted = (a: Int32Array) => Array.from(a).sort((x, y) => x - y);

describe('sequence augmentations for contrastive views', () => {
  it('crop keeps a random contiguous run of ⌊η·n⌋ items', () => {
    const rng = new Rng(1);
    const starts = new Set<number>();
    for (let t = 0; t < 50; t++) {
      const v = augmentSequence(seq, only({ crop: 0.6 }), rng);
      assert.equal(v.length, 12);
      for (let i = 1; i < v.length; i++) assert.equal(v[i], v[i - 1]! + 1, 'contiguous and in order');
      starts.add(v[0]!);
    }
    assert.ok(starts.size > 3, 'the start varies');
    assert.deepEqual(Array.from(augmentSequence(Int32Array.of(7), only({ crop: 0.1 }), rng)), [7], 'at least one item stays');
  });

  it('item mask drops ⌊γ·n⌋ items and keeps the order of the rest (never all of them)', () => {
    const rng = new Rng(2);
    const v = augmentSequence(seq, only({ maskRate: 0.3 }), rng);
    assert.equal(v.length, 14);
    for (let i = 1; i < v.length; i++) assert.ok(v[i]! > v[i - 1]!);
    assert.equal(augmentSequence(Int32Array.of(4, 5), only({ maskRate: 0.99 }), rng).length, 1);
  });

  it('local reorder shuffles one contiguous run of ⌊β·n⌋ items and nothing else', () => {
    const rng = new Rng(3);
    let changed = 0;
    for (let t = 0; t < 20; t++) {
      const v = augmentSequence(seq, only({ reorder: 0.3 }), rng);
      assert.deepEqual(sorted(v), Array.from(seq));
      const moved = Array.from(v).map((x, i) => (x !== seq[i] ? i : -1)).filter((i) => i >= 0);
      if (moved.length > 0) {
        changed++;
        assert.ok(moved[moved.length - 1]! - moved[0]! < 6, `moved positions ${moved} span more than ⌊0.3·20⌋`);
      }
    }
    assert.ok(changed > 10);
  });

  it('no augmentation switched on gives copies; the same seed gives the same views; views are paired', () => {
    const none = augmentSequence(seq, only({}), new Rng(1));
    assert.deepEqual(none, seq);
    assert.notEqual(none, seq, 'a copy, never the sequence itself');
    const rates = { crop: 0.6, maskRate: 0.3, reorder: 0.3 };
    const seqs = [seq, seq.subarray(5), seq.subarray(0, 4)];
    const a = twoViews(seqs, rates, new Rng(9));
    assert.deepEqual(a, twoViews(seqs, rates, new Rng(9)));
    assert.equal(a.length, 6);
    assert.ok(a[5]!.every((x) => x <= 4), 'row n + i is a view of sequence i');
  });

  it('rates outside their ranges are clear errors', () => {
    assert.throws(() => checkAugmentationRates(only({ crop: 0 })), (e: unknown) => e instanceof DataError && /crop must be in \(0, 1\]/.test(e.message));
    assert.throws(() => checkAugmentationRates(only({ maskRate: 1 })), /mask rate must be in \[0, 1\)/);
    assert.throws(() => checkAugmentationRates(only({ reorder: -0.1 })), /reorder must be in \[0, 1\]/);
    assert.throws(() => twoViews([seq], only({ crop: NaN }), new Rng(1)), /crop must be/);
  });
});
