import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, backend, backward, sampledSoftmaxCrossEntropy, softmaxCrossEntropy } from '../../src/index.js';
import { assertClose, randomTensor } from '../helpers/gradcheck.js';

/**
 * The softmax losses run their kernels on the rows that carry a target only (gathered, then the gradient
 * scattered back). Reference: the same kernels called directly on every row, padding rows skipped inside them.
 * Loss and gradients must agree for any padding pattern.
 */
const rng = new Rng(14);
const [N, C, V, IGNORE] = [37, 12, 300, 0];

const PATTERNS: Record<string, (n: number) => boolean> = {
  'no padding': () => false,
  'left padding per sequence of 8': (n) => n % 8 < 5,
  'random padding': () => rng.uniform() < 0.6,
  'all but one row padding': (n) => n !== 17,
  'all padding': () => true,
};

function targetsFor(padded: (n: number) => boolean): Int32Array {
  return Int32Array.from({ length: N }, (_, n) => (padded(n) ? IGNORE : rng.int(1, V)));
}

function countOf(targets: Int32Array): number {
  return targets.filter((t) => t !== IGNORE).length;
}

function inputs() {
  return { h: randomTensor(rng, [N, C]), table: randomTensor(rng, [V, C]), bias: randomTensor(rng, [V]) };
}

describe('softmax losses on the rows that carry a target', () => {
  for (const [name, padded] of Object.entries(PATTERNS)) {
    it(`full softmax, ${name}: same loss and gradients as every row through the kernel`, () => {
      const { h, table, bias } = inputs();
      const targets = targetsFor(padded);
      const count = countOf(targets);
      const k = backend();
      const lse = new Float32Array(N);
      const refTotal = k.softmaxXentForward(h.data, table.data, bias.data, targets, lse, N, C, V, IGNORE);
      const dh = new Float32Array(N * C), dtable = new Float32Array(V * C), dbias = new Float32Array(V);
      if (count > 0) k.softmaxXentBackward(h.data, table.data, bias.data, targets, lse, 1 / count, dh, dtable, dbias, N, C, V, IGNORE);

      const loss = softmaxCrossEntropy(h, table, bias, targets, { ignoreIndex: IGNORE });
      assert.ok(Math.abs(loss.item() - (count > 0 ? refTotal / count : 0)) <= 1e-5 * Math.max(1, Math.abs(loss.item())));
      if (count === 0) return assert.equal(loss.node, null);
      backward(loss);
      assertClose(h.grad!, dh, 1e-5, 'dh');
      assertClose(table.grad!, dtable, 1e-5, 'dtable');
      assertClose(bias.grad!, dbias, 1e-5, 'dbias');
      for (let n = 0; n < N; n++) if (targets[n] === IGNORE) assert.ok(h.grad!.subarray(n * C, (n + 1) * C).every((g) => g === 0));
    });

    it(`sampled softmax, ${name}: same loss and gradients as every row through the kernel`, () => {
      const { h, table, bias } = inputs();
      const targets = targetsFor(padded);
      const count = countOf(targets);
      const negatives = Int32Array.from({ length: 9 }, () => rng.int(1, V));
      const logQ = rng.fillUniform(new Float32Array(V), -8, -4);
      const k = backend();
      const probs = new Float32Array(N * 10);
      const refTotal = k.sampledSoftmaxForward(h.data, table.data, bias.data, targets, negatives, logQ, probs, N, C, V, IGNORE);
      const dh = new Float32Array(N * C), dtable = new Float32Array(V * C), dbias = new Float32Array(V);
      if (count > 0) k.sampledSoftmaxBackward(h.data, table.data, bias.data, targets, negatives, probs, 1 / count, dh, dtable, dbias, N, C, V, IGNORE);

      const loss = sampledSoftmaxCrossEntropy(h, table, bias, targets, negatives, { logQ, ignoreIndex: IGNORE });
      assert.ok(Math.abs(loss.item() - (count > 0 ? refTotal / count : 0)) <= 1e-5 * Math.max(1, Math.abs(loss.item())));
      if (count === 0) return assert.equal(loss.node, null);
      backward(loss);
      assertClose(h.grad!, dh, 1e-5, 'dh');
      assertClose(table.grad!, dtable, 1e-5, 'dtable');
      assertClose(bias.grad!, dbias, 1e-5, 'dbias');
    });
  }

  it('gradients add onto what h already holds (the scatter accumulates)', () => {
    const { h, table, bias } = inputs();
    const targets = targetsFor(PATTERNS['random padding']!);
    backward(softmaxCrossEntropy(h, table, bias, targets));
    const once = h.grad!.slice();
    backward(softmaxCrossEntropy(h, table, bias, targets));
    assertClose(h.grad!, once.map((g) => 2 * g), 1e-6, 'dh after two backward passes');
  });
});
