import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Adam, Rng, Tensor, backward, noGrad, softmaxCrossEntropy } from '../../src/tensor/index.js';
import {
  ITEM_PAIRS_PRIOR_SHRINK, ITEM_PAIRS_START_SCALES, chooseStartScale, itemPairTable, newItemPairs,
} from '../../src/transfer/item-pairs.js';

const itemPairSupport = (...a: Parameters<typeof itemPairTable>) => itemPairTable(...a).support;

describe('item-pair table of a cross-domain head', () => {
  // Three training users: source items (rows 0..4) → target items (0..3).
  const sources = [Int32Array.from([1, 2]), Int32Array.from([2]), Int32Array.from([4, 4, 1])];
  const targets = [Int32Array.from([3, 0]), Int32Array.from([1]), Int32Array.from([2])];

  it('support: the pairs of the given users only, sorted per source item', () => {
    const all = itemPairSupport(sources, targets, Int32Array.from([0, 1, 2]), 5, 4);
    // item 1: targets 0, 2, 3; item 2: 0, 1, 3; item 4: 2; items 0 and 3: none.
    assert.deepEqual(Array.from(all.indptr), [0, 0, 3, 6, 6, 7]);
    assert.deepEqual(Array.from(all.targets), [0, 2, 3, 0, 1, 3, 2]);
    const some = itemPairSupport(sources, targets, Int32Array.from([1]), 5, 4);
    assert.deepEqual(Array.from(some.indptr), [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(Array.from(some.targets), [1]);
    assert.throws(() => itemPairSupport(sources, targets, Int32Array.from([2]), 4, 4), /source item 4 outside 0..3/);
  });

  it('the table starts at a multiple of each pair\'s co-occurrence weight, c / (√(n(s)·n(t)) + shrink)', () => {
    const { support, start } = itemPairTable(sources, targets, Int32Array.from([0, 1, 2]), 5, 4);
    // (1,0): one user of both, item 1 has 2 users, target 0 one; (4,2): one user of both, one user each.
    const weight = (c: number, ns: number, nt: number) => c / (Math.sqrt(ns * nt) + ITEM_PAIRS_PRIOR_SHRINK);
    assert.ok(Math.abs(start.cooccurrence[0]! - weight(1, 2, 1)) < 1e-6, `${start.cooccurrence[0]}`);
    assert.ok(Math.abs(start.cooccurrence[6]! - weight(1, 1, 1)) < 1e-6, `${start.cooccurrence[6]}`);
    assert.ok(start.cooccurrence.every((v) => v > 0));
    const pairs = newItemPairs(support, start);
    assert.ok(pairs.weight.data.every((v) => v === 0), 'a new table is at zero');
    pairs.startAt(30);
    pairs.weight.data.forEach((v, j) => assert.ok(Math.abs(v - 30 * start.cooccurrence[j]!) < 1e-5));
    assert.throws(() => newItemPairs(support).startAt(30), /no training counts/);
  });

  it('the start multiple is the one validation scores best, and the table is left there', () => {
    const { support, start } = itemPairTable(sources, targets, Int32Array.from([0, 1, 2]), 5, 4);
    const pairs = newItemPairs(support, start);
    const wanted = ITEM_PAIRS_START_SCALES[2];
    const seen: number[] = [];
    // A validation score that peaks when the table sits at the wanted multiple (not the first or the last tried).
    const chosen = chooseStartScale(pairs, () => {
      const scale = pairs.weight.data[0]! / start.cooccurrence[0]!;
      seen.push(scale);
      return -Math.abs(Math.log(scale / wanted));
    });
    assert.equal(chosen.scale, wanted);
    assert.equal(seen.length, ITEM_PAIRS_START_SCALES.length);
    pairs.weight.data.forEach((v, j) => assert.ok(Math.abs(v - wanted * start.cooccurrence[j]!) < 1e-4));
  });

  it('a history scores Σ w·W[s, t] over its distinct source items, w = 1/√(distinct items), in training and in scoring', () => {
    const pairs = newItemPairs(itemPairSupport(sources, targets, Int32Array.from([0, 1, 2]), 5, 4));
    pairs.weight.data.set([1, 2, 3, 4, 5, 6, 7]); // (1,0) (1,2) (1,3) (2,0) (2,1) (2,3) (4,2)
    const history = Int32Array.from([1, 2, 2, 1]); // items 1 and 2; repeats count once
    const w = 1 / Math.SQRT2;
    const expected = [w * (1 + 4), w * 5, w * 2, w * (3 + 6)];
    const scores = new Float32Array(4);
    pairs.addScores(history, scores);
    scores.forEach((v, t) => assert.ok(Math.abs(v - expected[t]!) < 1e-6, `target ${t}: ${v} vs ${expected[t]}`));

    // The graph version: two softmax rows of that history, one of a history without pairs (item 3).
    const extra = noGrad(() => pairs.extraLogits([history, Int32Array.from([3])], Int32Array.from([0, 1, 0])))!;
    assert.deepEqual(Array.from(extra.indptr), [0, 4, 4, 8]);
    assert.deepEqual(Array.from(extra.cols), [0, 1, 2, 3, 0, 1, 2, 3]);
    extra.values.data.forEach((v, j) => assert.ok(Math.abs(v - expected[j % 4]!) < 1e-6));
    assert.equal(pairs.extraLogits([Int32Array.from([3])], Int32Array.from([0])), undefined);
  });

  it('leaving a training user out scores them as the table of the other users would (pairs only they had: 0)', () => {
    const all = Int32Array.from([0, 1, 2]);
    const table = itemPairTable(sources, targets, all, 5, 4);
    const pairs = newItemPairs(table.support, table.start);
    pairs.startAt(30);
    for (const u of all) {
      const others = itemPairTable(sources, targets, all.filter((v) => v !== u), 5, 4);
      const withoutU = newItemPairs(others.support, others.start);
      withoutU.startAt(30);
      const expected = new Float32Array(4);
      withoutU.addScores(sources[u]!, expected);
      const extra = noGrad(() => pairs.extraLogits([sources[u]!], Int32Array.of(0), [targets[u]!]))!;
      const got = new Float32Array(4);
      extra.cols.forEach((t, j) => (got[t] = extra.values.data[j]!));
      got.forEach((v, t) => assert.ok(Math.abs(v - expected[t]!) < 1e-5, `user ${u} target ${t}: ${v} vs ${expected[t]}`));
      // Not the same as scoring them with their own pairs in: some of their targets had a weight there.
      const own = new Float32Array(4);
      pairs.addScores(sources[u]!, own);
      assert.ok(targets[u]!.some((t) => own[t]! > expected[t]! + 1e-3), `user ${u}: own pairs add nothing`);
    }
    assert.throws(() => newItemPairs(table.support).extraLogits([sources[0]!], Int32Array.of(0), [targets[0]!]),
      /no training counts/);
  });

  it('learns a one-to-one source → target mapping that a user vector of width 2 cannot hold', () => {
    // 40 source items, each bought with exactly one target item (a permutation): the answer for a new user is the
    // partner of their source item. The head's user vectors are fixed at zero here, so only the table can learn it.
    const n = 40;
    const rng = new Rng(3);
    const partner = Int32Array.from({ length: n }, (_, i) => i);
    rng.shuffle(partner);
    const users = Array.from({ length: 3 * n }, (_, u) => u % n);
    const pairs = newItemPairs(itemPairSupport(users.map((s) => Int32Array.of(s)), users.map((s) => Int32Array.of(partner[s]!)),
      Int32Array.from(users.keys()), n, n));
    const table = new Tensor(new Float32Array(n * 2), [n, 2]);
    const optimizer = new Adam([pairs.weight], { lr: 0.1 });
    const histories = Array.from({ length: n }, (_, s) => Int32Array.of(s));
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    for (let step = 0; step < 30; step++) {
      const loss = softmaxCrossEntropy(new Tensor(new Float32Array(n * 2), [n, 2]), table, null, partner,
        { ignoreIndex: -1, extraLogits: pairs.extraLogits(histories, rows) });
      backward(loss);
      optimizer.step();
    }
    let top1 = 0;
    for (let s = 0; s < n; s++) {
      const scores = new Float32Array(n);
      pairs.addScores(Int32Array.of(s), scores);
      if (scores.indexOf(Math.max(...scores)) === partner[s]) top1++;
    }
    assert.equal(top1, n, `${top1} of ${n} source items rank their partner first`);
  });
});
