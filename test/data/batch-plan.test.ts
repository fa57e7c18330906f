import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochBatches, paddingShare } from '../../src/data/batch-plan.js';
import { DataError } from '../../src/errors.js';
import { Rng } from '../../src/tensor/index.js';

/** Window lengths shaped like a real log: mostly short, a long tail up to 50. */
function realisticLengths(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => Math.min(50, 1 + Math.floor(-Math.log(1 - rng.uniform()) * 6)));
}

const lengths = realisticLengths(1000, 5);
const OPTION_SETS = [
  { batch: 32, tokens: 0, lengthBuckets: true },
  { batch: 32, tokens: 0, lengthBuckets: false },
  { batch: 1, tokens: 300, lengthBuckets: true },
  { batch: 1, tokens: 40, lengthBuckets: false },
];

const plan = (options: (typeof OPTION_SETS)[number], seed: number) =>
  epochBatches(lengths, options, new Rng(seed)).map((b) => Array.from(b));

describe('epoch batch plans (length buckets, token budgets)', () => {
  for (const options of OPTION_SETS) {
    const what = `${options.tokens > 0 ? `${options.tokens} tokens` : `${options.batch} windows`}, buckets ${options.lengthBuckets ? 'on' : 'off'}`;

    it(`${what}: every window is in exactly one batch of an epoch`, () => {
      for (const seed of [1, 2, 3]) {
        const seen = plan(options, seed).flat().sort((a, b) => a - b);
        assert.deepEqual(seen, Array.from({ length: lengths.length }, (_, i) => i));
      }
    });

    it(`${what}: the same seed gives the same batches, another seed others`, () => {
      assert.deepEqual(plan(options, 7), plan(options, 7));
      assert.notDeepEqual(plan(options, 7), plan(options, 8));
    });

    it(`${what}: batches respect their size limit`, () => {
      for (const b of plan(options, 4)) {
        assert.ok(b.length >= 1);
        if (options.tokens === 0) assert.ok(b.length <= options.batch);
        else assert.ok(b.length === 1 || b.length * Math.max(...b.map((i) => lengths[i]!)) <= options.tokens, `${b.length} windows`);
      }
    });
  }

  it('a token budget fills batches: no batch could have taken the next window of its bucket', () => {
    const batches = plan({ batch: 1, tokens: 300, lengthBuckets: true }, 3);
    const tokens = batches.map((b) => b.length * Math.max(...b.map((i) => lengths[i]!)));
    const mean = tokens.reduce((s, t) => s + t, 0) / tokens.length;
    assert.ok(mean > 0.85 * 300, `mean ${mean} padded positions per batch`);
  });

  it('length buckets cut the padding of random batches, and their order is shuffled, not by length', () => {
    const bucketed = epochBatches(lengths, { batch: 32, tokens: 0, lengthBuckets: true }, new Rng(1));
    const random = epochBatches(lengths, { batch: 32, tokens: 0, lengthBuckets: false }, new Rng(1));
    assert.ok(paddingShare(lengths, bucketed) < 0.1, `bucketed padding ${paddingShare(lengths, bucketed)}`);
    assert.ok(paddingShare(lengths, random) > 0.5, `random padding ${paddingShare(lengths, random)}`);
    const longest = bucketed.map((b) => Math.max(...Array.from(b, (i) => lengths[i]!)));
    const ascending = longest.every((l, i) => i === 0 || l >= longest[i - 1]!);
    assert.ok(!ascending, 'batches must not come in length order');
    // The first batch of the epoch is not always the same length bucket.
    const firstLengths = new Set([1, 2, 3, 4, 5, 6].map((s) => {
      const b = epochBatches(lengths, { batch: 32, tokens: 0, lengthBuckets: true }, new Rng(s))[0]!;
      return lengths[b[0]!];
    }));
    assert.ok(firstLengths.size > 1);
  });

  it('windows of equal length are shuffled inside their bucket: which ones share a batch depends on the seed', () => {
    const equal = new Int32Array(200).fill(7);
    const first = (seed: number) => Array.from(epochBatches(equal, { batch: 10, tokens: 0, lengthBuckets: true }, new Rng(seed))[0]!).sort((a, b) => a - b);
    assert.notDeepEqual(first(1), first(2));
  });

  it('bad sizes are clear errors', () => {
    assert.throws(() => epochBatches(lengths, { batch: 0, tokens: 0, lengthBuckets: true }, new Rng(1)), DataError);
    assert.throws(() => epochBatches(lengths, { batch: 1, tokens: -1, lengthBuckets: true }, new Rng(1)), DataError);
  });
});
