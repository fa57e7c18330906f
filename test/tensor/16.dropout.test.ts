import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, Tensor, applyDropoutMask, backend, backward, dropout, dropoutMask, noGrad, seededDropout, sumProduct } from '../../src/index.js';
import { gradCheck, randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(31);
const k = backend();
const initialThreads = k.info().threads;
after(() => k.setThreads(initialThreads));

/** The mask a (seed, step) call draws over n elements: dropout of ones, 0 or 1 / (1 - rate) each. */
function maskOf(n: number, rate: number, seed: number, step: number, offset = 0): Float32Array {
  return seededDropout(new Tensor(new Float32Array(n).fill(1), [n], true), rate, { seed, step, offset }).data;
}

describe('seeded dropout kernel', () => {
  it('gradient check: the backward applies the forward\'s mask', () => {
    const x = randomTensor(rng, [4, 9]);
    const mask = maskOf(36, 0.4, 5, 2);
    gradCheck(rng, {
      inputs: [x],
      kernel: ([x]) => seededDropout(x!, 0.4, { seed: 5, step: 2 }),
      reference: ([x]) => x!.map((v, i) => v * mask[i]!),
      // Not differentiated through the kernel numerically: that probe runs without a graph, where dropout is off.
    });
  });

  it('same seed and step ⇒ same mask; another step or seed ⇒ another; drops about `rate` of the elements', () => {
    const n = 1 << 16;
    const a = maskOf(n, 0.3, 9, 0);
    assert.deepEqual(maskOf(n, 0.3, 9, 0), a);
    assert.notDeepEqual(maskOf(n, 0.3, 9, 1), a);
    assert.notDeepEqual(maskOf(n, 0.3, 10, 0), a);
    const dropped = a.filter((m) => m === 0).length / n;
    assert.ok(Math.abs(dropped - 0.3) < 0.01, `dropped ${dropped}`);
    assert.ok(a.every((m) => m === 0 || Math.abs(m - 1 / 0.7) < 1e-6));
  });

  it('masks look independent: neighbouring elements, and the same element in consecutive steps, are both dropped at about rate²', () => {
    const n = 1 << 16;
    const a = maskOf(n, 0.5, 4, 7);
    const b = maskOf(n, 0.5, 4, 8);
    let neighbours = 0;
    let steps = 0;
    for (let i = 0; i < n; i++) {
      if (i + 1 < n && a[i] === 0 && a[i + 1] === 0) neighbours++;
      if (a[i] === 0 && b[i] === 0) steps++;
    }
    // 0.25 ± 0.01 is over five standard deviations of a fair coin's rate over 2^16 pairs.
    assert.ok(Math.abs(neighbours / (n - 1) - 0.25) < 0.01, `neighbours both dropped ${neighbours / (n - 1)}`);
    assert.ok(Math.abs(steps / n - 0.25) < 0.01, `consecutive steps both dropped ${steps / n}`);
  });

  it('the mask depends only on (seed, step, index): identical for 1, 2 and 3 threads and for a prefix of the tensor', () => {
    const n = 1 << 18; // eight work chunks: each thread count splits them differently
    k.setThreads(1);
    const one = maskOf(n, 0.5, 77, 3);
    for (const threads of [2, 3]) {
      k.setThreads(threads);
      k.resetPoolStats();
      const many = maskOf(n, 0.5, 77, 3);
      assert.ok(k.poolStats().sharedTasks > 1, `the mask was drawn in several pool tasks at ${threads} threads`);
      assert.deepEqual(many, one, `${threads} threads`);
    }
    assert.deepEqual(maskOf(n / 2 + 13, 0.5, 77, 3), one.subarray(0, n / 2 + 13));
  });

  it('with an offset, a tensor draws that part of a larger tensor\'s mask (a rank\'s rows of a batch), forward and backward', () => {
    const whole = maskOf(1000, 0.5, 12, 4);
    assert.deepEqual(maskOf(300, 0.5, 12, 4, 600), whole.subarray(600, 900));
    assert.notDeepEqual(maskOf(300, 0.5, 12, 4, 0), whole.subarray(600, 900));
    const x = randomTensor(rng, [3, 10]);
    gradCheck(rng, {
      inputs: [x],
      kernel: ([x]) => seededDropout(x!, 0.5, { seed: 12, step: 4, offset: 600 }),
      reference: ([x]) => x!.map((v, i) => v * whole[600 + i]!),
    });
    assert.throws(() => maskOf(10, 0.5, 1, 0, 2 ** 32 - 5), /above 2\^32 elements/);
  });

  it('is the identity outside training (no graph) and at rate 0; refuses a rate outside [0, 1)', () => {
    const x = randomTensor(rng, [3, 4]);
    assert.equal(noGrad(() => seededDropout(x, 0.5, { seed: 1, step: 0 })), x);
    assert.equal(seededDropout(x, 0, { seed: 1, step: 0 }), x);
    assert.throws(() => seededDropout(x, 1, { seed: 1, step: 0 }), /rate must be in \[0, 1\)/);
  });
});

describe('dropout with a mask drawn ahead (data-parallel shards)', () => {
  it('the mask is the one dropout() draws from the same stream; a shard of rows gets its part of it, in the forward and the backward', () => {
    const x = randomTensor(new Rng(4), [6, 5]);
    const whole = dropout(x, 0.3, new Rng(9)).data;
    const mask = dropoutMask(30, 0.3, new Rng(9))!;
    assert.deepEqual(Float32Array.from(x.data, (v, i) => v * mask[i]!), whole);
    // Rows 2..5 of the batch, alone: the forward is those rows of the whole batch's, the gradient is the mask's part.
    const shard = new Tensor(x.data.slice(10), [4, 5], true);
    const y = applyDropoutMask(shard, mask, 10);
    assert.deepEqual(y.data, whole.slice(10));
    backward(sumProduct(y, new Float32Array(20).fill(1)));
    assert.deepEqual(shard.grad, mask.slice(10));
  });

  it('rate 0 draws nothing and is the identity; a mask too short for the shard is refused', () => {
    const r = new Rng(2);
    const before = r.state();
    assert.equal(dropoutMask(10, 0, r), null);
    assert.deepEqual(r.state(), before);
    const x = new Tensor(new Float32Array(4).fill(1), [4], true);
    assert.equal(applyDropoutMask(x, null), x);
    assert.throws(() => applyDropoutMask(x, new Float32Array(6), 3), /has no \[3, 7\)/);
  });
});
