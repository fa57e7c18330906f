import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  Parameter, Rng, add, backend, backward, dilatedConv1d, embedding, layerNorm, reshape, sampledSoftmaxCrossEntropy,
  softmaxCrossEntropy,
} from '../../src/index.js';

const k = backend();
const initialThreads = k.info().threads;
after(() => {
  k.setThreads(initialThreads);
  k.setDeterministic(false);
});

/** One seeded forward+backward through every kernel family; returns the loss and all gradients. */
function trainingStepFingerprint(): Float32Array[] {
  const rng = new Rng(123);
  const [B, L, C, V] = [8, 20, 16, 700];
  const param = (name: string, shape: number[], rowSparse = false) =>
    new Parameter(name, rng.fillTruncatedNormal(new Float32Array(shape.reduce((a, b) => a * b)), 0.2), shape, { rowSparse });
  const items = param('items', [V, C], true);
  const w1 = param('w1', [3, C, C]);
  const w2 = param('w2', [3, C, C]);
  const gamma = param('gamma', [C]);
  const beta = param('beta', [C]);
  const ids = Int32Array.from({ length: B * L }, () => rng.int(1, V));
  const targets = Int32Array.from({ length: B * L }, () => rng.int(0, V));
  const x = embedding(items, ids, [B, L]);
  const h1 = layerNorm(dilatedConv1d(x, w1, null, { dilation: 2, causal: true }), gamma, beta, { eps: 1e-8, relu: true });
  const h = add(dilatedConv1d(h1, w2, null, { dilation: 4, causal: false }), x);
  const rows = reshape(h, [B * L, C]);
  const loss1 = softmaxCrossEntropy(rows, items, null, targets);
  const loss2 = sampledSoftmaxCrossEntropy(rows, items, null, targets, Int32Array.from([3, 9, 27, 81, 243]));
  backward(add(loss1, loss2));
  return [loss1.data, loss2.data, items.grad!, w1.grad!, w2.grad!, gamma.grad!, beta.grad!];
}

describe('determinism', () => {
  it('deterministic mode gives bit-identical losses and gradients for 1 and 2 threads', () => {
    k.setDeterministic(true);
    k.setThreads(1);
    const one = trainingStepFingerprint();
    k.setThreads(2);
    const two = trainingStepFingerprint();
    one.forEach((a, i) => assert.deepEqual(a, two[i], `tensor ${i}`));
  });

  it('the same seed gives bit-identical results run after run', () => {
    const a = trainingStepFingerprint();
    const b = trainingStepFingerprint();
    a.forEach((x, i) => assert.deepEqual(x, b[i], `tensor ${i}`));
  });
});
