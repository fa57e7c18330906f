import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, ModelConfigSchema } from '../../src/config/schema.js';
import { evaluateNextItem, fullRank } from '../../src/eval/evaluate.js';
import { rankingMetrics } from '../../src/eval/metrics.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng } from '../../src/tensor/index.js';

describe('ranking metrics', () => {
  it('hand-computed HR, NDCG and MRR at k', () => {
    const m = rankingMetrics([0, 1, 4, 30], [5]);
    assert.equal(m['HR@5'], 3 / 4);
    assert.ok(Math.abs(m['NDCG@5']! - (1 + 1 / Math.log2(3) + 1 / Math.log2(6)) / 4) < 1e-12);
    assert.ok(Math.abs(m['MRR@5']! - (1 + 1 / 2 + 1 / 5) / 4) < 1e-12);
  });

  it('full ranking counts ties against the target and ignores padding', () => {
    // index 0 is padding (its high score must not count); item 2 is the target, tied with item 3
    const scores = Float32Array.from([99, 0.1, 0.5, 0.5, 0.9]);
    assert.equal(fullRank(scores, 4, 2, null), 2);
    assert.equal(fullRank(scores, 4, 4, null), 0);
    assert.equal(fullRank(scores, 4, 1, null), 3);
  });

  it('history masking removes seen items except the target', () => {
    const scores = Float32Array.from([0, 0.1, 0.5, 0.7, 0.9]);
    assert.equal(fullRank(scores, 4, 2, Int32Array.from([4])), 1);
  });

  it('a NaN target score ranks last, never first', () => {
    const scores = Float32Array.from([0, NaN, 0.5, 0.7, 0.9]);
    assert.equal(fullRank(scores, 4, 1, null), 3);
  });

  it('a NaN score on any other item ranks the target last: a broken model is never flattered', () => {
    const scores = Float32Array.from([0, 0.1, NaN, 0.7, 0.9]);
    assert.equal(fullRank(scores, 4, 4, null), 3, 'the best score does not win when another score is NaN');
    assert.equal(fullRank(scores, 4, 4, Int32Array.from([1])), 2, 'last among the candidates left after masking');
  });

  it('evaluation of a model that scores one item NaN gives zero hits, full and sampled', () => {
    const items = 30;
    const model = new NextItNet(ModelConfigSchema.parse({ ...MODEL_DEFAULTS, numItems: items, dim: 8, blocks: 1, maxLen: 5 }), new Rng(1));
    model.outputBias!.data[7] = Number.NaN;
    model.outputBias!.data[3] = 100; // item 3 is everyone's top item, and the target
    // Item 7 is NaN for every user: with 5 sampled negatives it is rarely among them, yet the target must rank last.
    const heldOut = { users: Int32Array.from([0, 1]), histories: [Int32Array.from([1, 2]), Int32Array.from([5])], targets: Int32Array.from([3, 3]) };
    for (const sampledNegatives of [0, 5]) {
      const r = evaluateNextItem(model, heldOut, new Float64Array(items + 1), { ks: [5], maskHistory: false, sampledNegatives });
      assert.equal(r.metrics['HR@5'], 0, `sampled ${sampledNegatives}: ${JSON.stringify(r.metrics)}`);
    }
    model.outputBias!.data[7] = 0;
    const healthy = evaluateNextItem(model, heldOut, new Float64Array(items + 1), { ks: [5], maskHistory: false });
    assert.equal(healthy.metrics['HR@5'], 1);
  });

  it('an evaluation sharded by user, its ranks joined, gives the metrics of the whole evaluation', () => {
    const items = 40;
    const model = new NextItNet(ModelConfigSchema.parse({ ...MODEL_DEFAULTS, numItems: items, dim: 8, blocks: 1, maxLen: 5 }), new Rng(3));
    const rng = new Rng(4);
    const n = 23;
    const heldOut = {
      users: Int32Array.from({ length: n }, (_, i) => i),
      histories: Array.from({ length: n }, () => Int32Array.from({ length: rng.int(1, 7) }, () => rng.int(1, items + 1))),
      targets: Int32Array.from({ length: n }, () => rng.int(1, items + 1)),
    };
    const counts = Float64Array.from({ length: items + 1 }, (_, i) => (i === 0 ? 0 : rng.int(0, 9)));
    const options = { ks: [5, 10], maskHistory: false };
    const whole = evaluateNextItem(model, heldOut, counts, options);
    // Two "ranks": the second one's ranks are captured first, then joined after the first's, as an allgather would.
    const second: Int32Array[] = [];
    evaluateNextItem(model, heldOut, counts, { ...options, shard: { start: 9, end: n, gather: (r) => (second.push(r), new Int32Array(n)) } });
    let call = 0;
    const joined = evaluateNextItem(model, heldOut, counts, {
      ...options, shard: { start: 0, end: 9, gather: (r) => Int32Array.from([...r, ...second[call++]!]) },
    });
    assert.equal(joined.users, n);
    assert.deepEqual(joined.metrics, whole.metrics);
    assert.deepEqual(joined.popularity, whole.popularity);
  });

  it('all-equal scores (a collapsed model) rank every target last', () => {
    const scores = new Float32Array(11).fill(0.3);
    assert.equal(fullRank(scores, 10, 5, null), 9);
    assert.equal(rankingMetrics([9], [10])['HR@10'], 1);
    assert.equal(rankingMetrics([9], [5])['HR@5'], 0);
  });
});
