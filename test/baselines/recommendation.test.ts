import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cooccurrenceCounts, cooccurrenceScores } from '../../src/baselines/cooccurrence.js';
import { targetPopularity } from '../../src/baselines/popularity.js';
import { recommendationBaselines } from '../../src/baselines/recommendation.js';

const ints = (rows: number[][]) => rows.map((r) => Int32Array.from(r));
// Source item 1 goes with target 0, source 2 with target 1, source 3 with target 2, which is the most popular.
const sources = ints([[1], [1, 2], [2], [3], [3], [3], [3]]);
const targets = ints([[0], [0, 1], [1], [2], [2], [2], [2]]);
const all = Int32Array.from(sources.keys());

describe('item co-occurrence baseline', () => {
  it('counts source → target pairs over the given users only, each source item once per user', () => {
    const m = cooccurrenceCounts(ints([[1, 1], ...sources.slice(1).map((s) => Array.from(s))]), targets, all, 3);
    assert.deepEqual(Array.from(m.indptr), [0, 0, 2, 4, 5]);
    assert.deepEqual(Array.from(m.targets), [0, 1, 0, 1, 2]);
    assert.deepEqual(Array.from(m.counts), [2, 1, 1, 2, 4]);
    assert.deepEqual(Array.from(m.sourceUsers), [0, 2, 2, 4]);
    assert.deepEqual(Array.from(m.targetUsers), [2, 2, 4]);
    const someUsers = cooccurrenceCounts(sources, targets, Int32Array.from([3]), 3);
    assert.deepEqual(Array.from(someUsers.counts), [1]);
    assert.deepEqual(Array.from(targetPopularity(targets, Int32Array.from([0, 1]), 3)), [2, 1, 0]);
  });

  it('scores by the shrunk cosine weights blended with popularity; no co-occurrence ranks by popularity', () => {
    const m = cooccurrenceCounts(sources, targets, all, 3);
    const out = new Float32Array(3);
    // w(1, 0) = 2 / sqrt(2·2) = 1, w(1, 1) = 1 / sqrt(2·2) = 0.5; scaled to max 1, then 0.9·that + 0.1·popularity/4.
    const expected = [0.9 * 1 + 0.1 * 0.5, 0.9 * 0.5 + 0.1 * 0.5, 0.1 * 1];
    cooccurrenceScores(m, Int32Array.from([1, 1]), { shrink: 0, popularityWeight: 0.1 }, out);
    expected.forEach((e, t) => assert.ok(Math.abs(out[t]! - e) < 1e-6, `target ${t}: ${out[t]} ≠ ${e}`));
    // shrink 2: w(1, 0) = 2 / 4, w(1, 1) = 1 / 4; the ratio between them stays 2.
    cooccurrenceScores(m, Int32Array.from([1]), { shrink: 2, popularityWeight: 0.001 }, out);
    assert.ok(out[0]! > out[1]! && out[1]! > out[2]!);
    cooccurrenceScores(m, Int32Array.from([9]), { shrink: 0, popularityWeight: 0.1 }, out);
    assert.deepEqual(Array.from(out), [0.05, 0.05, 0.1].map(Math.fround));
  });

  it('ranks the co-occurring target first where popularity ranks it last, by the shared full-ranking rule', () => {
    // Training users as above (several copies); validation and test users have source item 1 and target 0.
    const copies = 3;
    const trainS = Array.from({ length: copies }, () => sources).flat();
    const trainT = Array.from({ length: copies }, () => targets).flat();
    const d = {
      sources: [...trainS, ...ints([[1], [1], [1, 9], [1]])],
      targets: [...trainT, ...ints([[0], [0], [0], [0]])],
      numTargets: 3,
      split: {
        train: Int32Array.from(trainS.keys()),
        valid: Int32Array.from([trainS.length, trainS.length + 1]),
        test: Int32Array.from([trainS.length + 2, trainS.length + 3]),
      },
    };
    const b = recommendationBaselines(d, [1, 3]);
    assert.equal(b.cooccurrence['HR@1'], 1, JSON.stringify(b));
    assert.equal(b.popularity['HR@1'], 0);
    // Target 0 ties target 1 in popularity (6 users each): ties count against it, so rank 2 of 3.
    assert.equal(b.popularity['MRR@3'], 1 / 3);
    assert.ok(typeof b.cooccurrence.shrink === 'number' && b.cooccurrence.popularityWeight > 0);
  });
});
