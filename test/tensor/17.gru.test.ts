import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, Tensor, backend, backward, gruRecurrence, noGrad, sumProduct } from '../../src/index.js';
import { gradCheck, randomTensor } from '../helpers/gradcheck.js';
import { gruRef } from '../helpers/reference.js';

const rng = new Rng(2014);
const k = backend();
const initialThreads = k.info().threads;
after(() => k.setThreads(initialThreads));

describe('GRU recurrence kernel', () => {
  it('gradient check of every input (gates, W_hh, b_hh) with one sequence left-padded', () => {
    const [B, L, H] = [2, 4, 3];
    const starts = Int32Array.from([0, 2]);
    const gx = randomTensor(rng, [B, L, 3 * H]);
    const whh = randomTensor(rng, [H, 3 * H]);
    const bhh = randomTensor(rng, [3 * H]);
    gradCheck(rng, {
      inputs: [gx, whh, bhh],
      kernel: ([g, w, b]) => gruRecurrence(g!, w!, b!, starts),
      reference: ([g, w, b]) => gruRef(g!, w!, b!, starts, B, L, H),
      kernelFiniteDifference: true,
    });
  });

  it('padding positions hold h = 0 and get no gradient; an all-padding sequence is all zeros', () => {
    const [B, L, H] = [2, 4, 2];
    const starts = Int32Array.from([3, 4]);
    const gx = randomTensor(rng, [B, L, 3 * H]);
    const whh = randomTensor(rng, [H, 3 * H]);
    const bhh = randomTensor(rng, [3 * H]);
    const out = gruRecurrence(gx, whh, bhh, starts);
    assert.ok(out.data.subarray(0, 3 * H).every((x) => x === 0), 'padding of sequence 0');
    assert.ok(out.data.subarray(3 * H, 4 * H).some((x) => x !== 0), 'the real position of sequence 0');
    assert.ok(out.data.subarray(L * H).every((x) => x === 0), 'the all-padding sequence');
    backward(sumProduct(out, new Float32Array(out.size).fill(1)));
    const G = 3 * H;
    assert.ok(gx.grad!.subarray(0, 3 * G).every((x) => x === 0), 'no gradient into padding gates');
    assert.ok(gx.grad!.subarray(3 * G, 4 * G).some((x) => x !== 0));
    assert.ok(gx.grad!.subarray(L * G).every((x) => x === 0));
  });

  it('changing a later position leaves earlier hidden states bit-identical', () => {
    const [B, L, H] = [1, 6, 4];
    const starts = Int32Array.from([0]);
    const gx = randomTensor(rng, [B, L, 3 * H], false);
    const whh = randomTensor(rng, [H, 3 * H], false);
    const bhh = randomTensor(rng, [3 * H], false);
    const before = noGrad(() => gruRecurrence(gx, whh, bhh, starts)).data.slice();
    for (let i = 4 * 3 * H; i < L * 3 * H; i++) gx.data[i] = 3 * rng.uniform();
    const later = noGrad(() => gruRecurrence(gx, whh, bhh, starts)).data;
    assert.deepEqual(later.subarray(0, 4 * H), before.subarray(0, 4 * H));
    assert.notDeepEqual(later.subarray(4 * H), before.subarray(4 * H), 'the changed positions did change');
  });

  it('gives bit-identical outputs and gradients for 1 and 2 threads', () => {
    const [B, L, H] = [6, 9, 5];
    const starts = Int32Array.from([0, 3, 8, 9, 1, 0]);
    const inputs = [randomTensor(rng, [B, L, 3 * H]), randomTensor(rng, [H, 3 * H]), randomTensor(rng, [3 * H])];
    const w = new Float32Array(B * L * H);
    rng.fillUniform(w, -1, 1);
    const run = () => {
      for (const t of inputs) t.grad = null;
      const out = gruRecurrence(inputs[0]!, inputs[1]!, inputs[2]!, starts);
      backward(sumProduct(out, w));
      return [out.data, ...inputs.map((t) => Float32Array.from(t.grad!))];
    };
    k.setThreads(1);
    const one = run();
    k.setThreads(2);
    k.resetPoolStats();
    const two = run();
    // Each time step hands its B sequences to the pool: at 2 threads they must really be split, or the
    // comparison below would hold for a kernel that never ran in parallel.
    assert.ok(k.poolStats().sharedTasks > 1, `only ${k.poolStats().sharedTasks} pool task(s) ran at 2 threads`);
    one.forEach((a, i) => assert.deepEqual(two[i], a, `tensor ${i}`));
  });

  it('rejects mismatched shapes and out-of-range starts', () => {
    const gx = Tensor.zeros([1, 3, 6]);
    assert.throws(() => gruRecurrence(Tensor.zeros([1, 3, 5]), Tensor.zeros([2, 6]), Tensor.zeros([6]), Int32Array.of(0)), /\[B, L, 3H\]/);
    assert.throws(() => gruRecurrence(gx, Tensor.zeros([3, 6]), Tensor.zeros([6]), Int32Array.of(0)), /whh must be \[2, 6\]/);
    assert.throws(() => gruRecurrence(gx, Tensor.zeros([2, 6]), Tensor.zeros([6]), Int32Array.of(0, 0)), /starts has 2 entries/);
    assert.throws(() => gruRecurrence(gx, Tensor.zeros([2, 6]), Tensor.zeros([6]), Int32Array.of(4)), /starts\[0\] = 4/);
  });
});
