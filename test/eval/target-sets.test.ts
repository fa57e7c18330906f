import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetSetRanks } from '../../src/eval/target-sets.js';

describe('full ranking of target sets', () => {
  it('one query per target; the user\'s other targets leave the candidates; ties count against the target', () => {
    const scores = [Float32Array.from([0.9, 0.8, 0.1, 0.5]), Float32Array.from([0.2, 0.2, 0.2, 0.2])];
    const ranks = targetSetRanks([Int32Array.from([0, 2]), Int32Array.from([3])], 4, (visit) => scores.forEach((s, u) => visit(u, s)));
    // User 0: target 0 is best (rank 0); target 2 is below items 1 and 3 (rank 2; item 0 is excluded, a correct
    // answer too). User 1: every score ties, so target 3 ranks behind the other three.
    assert.deepEqual(Array.from(ranks), [0, 2, 3]);
  });
});
