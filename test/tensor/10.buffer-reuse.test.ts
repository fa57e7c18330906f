import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Rng, Tensor, add, backend, backward, dilatedConv1d, layerNorm, scratchScope, sumProduct,
} from '../../src/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(5);

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillUniform(a, -1, 1);
  return a;
}

describe('gradient overwrite and buffer reuse', () => {
  it('dxOverwrite ignores what dx held and equals accumulating into zeros', () => {
    const k = backend();
    const [B, L, C, K, D] = [3, 7, 5, 3, 2];
    const rows = B * L;
    const x = random(rows * C), dy = random(rows * C), w = random(K * C * C);
    for (const dilation of [1, 4]) {
      const acc = new Float32Array(rows * C), over = new Float32Array(rows * C).fill(Number.NaN);
      k.conv1dBackward(x, w, dy, acc, null, null, B, L, C, C, K, dilation, true);
      k.conv1dBackward(x, w, dy, over, null, null, B, L, C, C, K, dilation, true, null, true);
      assert.deepEqual(over, acc);
    }
    const mean = new Float32Array(rows), rstd = new Float32Array(rows), y = new Float32Array(rows * C);
    const gamma = random(C), beta = random(C);
    k.layerNormForward(x, gamma, beta, y, mean, rstd, rows, C, 1e-8, true);
    const acc = new Float32Array(rows * C), over = new Float32Array(rows * C).fill(Number.NaN);
    k.layerNormBackward(x, gamma, mean, rstd, y, dy, acc, null, null, rows, C);
    k.layerNormBackward(x, gamma, mean, rstd, y, dy, over, null, null, rows, C, true);
    assert.deepEqual(over, acc);
    const wd = random(C * D), wu = random(D * C), hidden = new Float32Array(rows * D), out = new Float32Array(rows * C);
    k.patchForward(x, wd, null, wu, null, x, hidden, out, rows, C, D);
    for (const residual of [true, false]) {
      const pa = new Float32Array(rows * C), po = new Float32Array(rows * C).fill(Number.NaN);
      k.patchBackward(x, wd, wu, hidden, dy, pa, null, null, null, null, rows, C, D, residual);
      k.patchBackward(x, wd, wu, hidden, dy, po, null, null, null, null, rows, C, D, residual, true);
      assert.deepEqual(po, pa);
    }
  });

  it('repeated steps inside scratch scopes give identical gradients (no stale buffer contents leak)', () => {
    const x = randomTensor(rng, [2, 6, 4], false);
    const w1 = randomTensor(rng, [3, 4, 4]);
    const w2 = randomTensor(rng, [3, 4, 4]);
    const gamma = Tensor.from([1, 0.5, 2, 1], [4], true);
    const beta = randomTensor(rng, [4]);
    const weights = random(x.size);
    const step = () => scratchScope(() => {
      const h = layerNorm(dilatedConv1d(x, w1, null, { dilation: 1, causal: true }), gamma, beta, { eps: 1e-8, relu: true });
      const y = add(dilatedConv1d(h, w2, null, { dilation: 2, causal: true }), h);
      backward(sumProduct(y, weights));
    });
    const grads = () => [w1, w2, gamma, beta].map((p) => Float32Array.from(p.grad!));
    step();
    const first = grads();
    for (let i = 0; i < 3; i++) {
      for (const p of [w1, w2, gamma, beta]) p.grad!.fill(0);
      step();
      assert.deepEqual(grads(), first);
    }
  });
});
