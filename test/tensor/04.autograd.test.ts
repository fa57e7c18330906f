import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Parameter, Rng, ShapeError, Tensor, add, backward, dilatedConv1d, embedding, gelu, layerNorm, linear, noGrad,
  relu, sampledSoftmaxCrossEntropy, softmaxCrossEntropy, sumProduct,
} from '../../src/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(11);

describe('autograd', () => {
  it('frozen parameters get no gradient buffer and no gradient work', () => {
    const x = randomTensor(rng, [2, 5, 4], false);
    const frozenW = randomTensor(rng, [3, 4, 4], false);
    const frozenB = randomTensor(rng, [4], false);
    const trained = randomTensor(rng, [4]);
    const h = dilatedConv1d(x, frozenW, frozenB, { dilation: 2, causal: true });
    const y = layerNorm(h, Tensor.from([1, 1, 1, 1], [4]), trained, { eps: 1e-8 });
    backward(sumProduct(y, new Float32Array(y.size).fill(1)));
    assert.equal(frozenW.grad, null);
    assert.equal(frozenB.grad, null);
    assert.equal(x.grad, null);
    assert.ok(trained.grad);
  });

  it('an op over frozen inputs only records nothing', () => {
    const x = randomTensor(rng, [3, 4], false);
    const y = gelu(x);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
  });

  it('noGrad records no graph even for trainable inputs', () => {
    const w = randomTensor(rng, [4, 2]);
    const y = noGrad(() => linear(randomTensor(rng, [3, 4], false), w, null));
    assert.equal(y.node, null);
    assert.equal(y.requiresGrad, false);
  });

  it('a tensor used twice accumulates both gradient paths', () => {
    const x = Tensor.from([1, -2, 3], [3], true);
    const y = add(x, relu(x)); // dy/dx = 1 + [x > 0]
    backward(sumProduct(y, Float32Array.from([1, 1, 1])));
    assert.deepEqual(Array.from(x.grad!), [2, 1, 2]);
  });

  it('gradients accumulate across backward calls until the optimizer consumes them', () => {
    const x = Tensor.from([1, 2], [2], true);
    for (let i = 0; i < 2; i++) backward(sumProduct(relu(x), Float32Array.from([3, 4])));
    assert.deepEqual(Array.from(x.grad!), [6, 8]);
  });

  it('backward releases the graph and intermediate gradients', () => {
    const x = Tensor.from([1, 2], [2], true);
    const h = gelu(x);
    backward(sumProduct(h, Float32Array.from([1, 1])));
    assert.equal(h.node, null);
    assert.equal(h.grad, null);
    assert.ok(x.grad);
  });

  it('backward refuses a non-scalar or a tensor without grad', () => {
    assert.throws(() => backward(relu(Tensor.from([1, 2], [2], true))), ShapeError);
    assert.throws(() => backward(Tensor.from([1], [1])), ShapeError);
  });

  it('a deep chain (2,000 ops) backpropagates without overflowing the stack', () => {
    const x = Tensor.from([0.5], [1], true);
    let y = x;
    for (let i = 0; i < 2000; i++) y = add(y, Tensor.from([0.001], [1]));
    backward(sumProduct(y, Float32Array.from([1])));
    assert.deepEqual(Array.from(x.grad!), [1]);
  });

  it('embedding gradients mark only the rows that were looked up', () => {
    const table = new Parameter('items', rng.fillUniform(new Float32Array(10 * 2), -1, 1), [10, 2], { rowSparse: true });
    const out = embedding(table, Int32Array.from([3, 7, 3]), [3]);
    backward(sumProduct(out, new Float32Array(6).fill(1)));
    assert.deepEqual(Array.from(table.touchedRows!).flatMap((v, i) => (v ? [i] : [])), [3, 7]);
    assert.deepEqual(Array.from(table.grad!.subarray(6, 8)), [2, 2]);
  });

  it('sampled softmax marks target and negative rows; full softmax marks the table dense', () => {
    const h = randomTensor(rng, [2, 3]);
    const table = new Parameter('out', rng.fillUniform(new Float32Array(8 * 3), -1, 1), [8, 3], { rowSparse: true });
    backward(sampledSoftmaxCrossEntropy(h, table, null, Int32Array.from([1, 0]), Int32Array.from([5, 6])));
    assert.deepEqual(Array.from(table.touchedRows!).flatMap((v, i) => (v ? [i] : [])), [1, 5, 6]);
    backward(softmaxCrossEntropy(h, table, null, Int32Array.from([2, 4])));
    assert.equal(table.allRowsTouched, true);
  });

  it('hand-computed: full softmax over two items with equal scores costs ln 2', () => {
    const h = Tensor.from([0, 0], [1, 2], true);
    const table = Tensor.from([1, 2, 3, 4], [2, 2], true);
    const loss = softmaxCrossEntropy(h, table, null, Int32Array.from([1]), { ignoreIndex: -1 });
    assert.ok(Math.abs(loss.item() - Math.LN2) < 1e-6);
    backward(loss);
    // dL/dh = sum_v p_v e_v - e_target = 0.5*(1,2) + 0.5*(3,4) - (3,4)
    assert.deepEqual(Array.from(h.grad!), [-1, -1]);
  });

  it('hand-computed: a causal kernel-2 dilation-1 convolution sums the previous and current step', () => {
    const x = Tensor.from([1, 2, 3], [1, 3, 1]);
    const w = Tensor.from([1, 10], [2, 1, 1]); // tap 0 reads t-1, tap 1 reads t
    const y = dilatedConv1d(x, w, null, { dilation: 1, causal: true });
    assert.deepEqual(Array.from(y.data), [10, 21, 32]);
    const centred = dilatedConv1d(x, Tensor.from([1, 10, 100], [3, 1, 1]), null, { dilation: 1, causal: false });
    assert.deepEqual(Array.from(centred.data), [210, 321, 32]);
  });

  it('hand-computed: layer norm of [1, 2, 3] and GELU(1)', () => {
    const y = layerNorm(Tensor.from([1, 2, 3], [1, 3]), Tensor.from([1, 1, 1], [3]), Tensor.zeros([3]), { eps: 0 });
    const s = Math.sqrt(1.5);
    assert.deepEqual(Array.from(y.data).map((v) => v.toFixed(5)), [-s, 0, s].map((v) => v.toFixed(5)));
    assert.ok(Math.abs(gelu(Tensor.from([1], [1])).item() - 0.841192) < 1e-5);
  });
});
