import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, Tensor, add, backend, backward, bottleneckPatch, gelu, linear, noGrad, sumProduct } from '../../src/index.js';
import { gradCheck, randomTensor, relativeError } from '../helpers/gradcheck.js';
import { patchRef } from '../helpers/reference.js';

const rng = new Rng(77);

describe('fused bottleneck patch kernel', () => {
  for (const base of ['x', 'other', 'none'] as const) {
    it(`base = ${base}: forward and gradients against float64 finite differences`, () => {
      const [B, L, C, D] = [2, 5, 6, 3];
      const x = randomTensor(rng, [B, L, C]);
      const wd = randomTensor(rng, [C, D]);
      const bd = randomTensor(rng, [D]);
      const wu = randomTensor(rng, [D, C]);
      const bu = randomTensor(rng, [C]);
      const other = randomTensor(rng, [B, L, C]);
      const inputs = base === 'other' ? [x, wd, bd, wu, bu, other] : [x, wd, bd, wu, bu];
      gradCheck(rng, {
        inputs,
        kernel: ([x, wd, bd, wu, bu, o]) => bottleneckPatch(x!, { downWeight: wd!, downBias: bd!, upWeight: wu!, upBias: bu! },
          base === 'x' ? x! : base === 'other' ? o! : null),
        reference: ([x, wd, bd, wu, bu, o]) => patchRef(x!, wd!, bd!, wu!, bu!, base === 'x' ? x! : base === 'other' ? o! : null,
          B * L, C, D),
        kernelFiniteDifference: true,
      });
    });
  }

  it('without biases, over several row blocks', () => {
    const [rows, C, D] = [300, 5, 2];
    const x = randomTensor(rng, [rows, C]);
    const wd = randomTensor(rng, [C, D]);
    const wu = randomTensor(rng, [D, C]);
    gradCheck(rng, {
      inputs: [x, wd, wu],
      kernel: ([x, wd, wu]) => bottleneckPatch(x!, { downWeight: wd!, downBias: null, upWeight: wu!, upBias: null }, x!),
      reference: ([x, wd, wu]) => patchRef(x!, wd!, null, wu!, null, x!, rows, C, D),
    });
  });

  it('matches the unfused ops (linear, gelu, linear, add) at C=64 on many rows, at 1 and 2 threads', () => {
    const k = backend();
    const threads = k.info().threads;
    const [rows, C, D] = [1000, 64, 16];
    const x = randomTensor(rng, [rows, C], true);
    const ws = [randomTensor(rng, [C, D]), randomTensor(rng, [D]), randomTensor(rng, [D, C]), randomTensor(rng, [C])];
    const g = new Rng(3).fillUniform(new Float32Array(rows * C), -1, 1);
    const run = (fused: boolean) => {
      for (const t of [x, ...ws]) t.grad = null;
      const [wd, bd, wu, bu] = ws as [Tensor, Tensor, Tensor, Tensor];
      const y = fused ? bottleneckPatch(x, { downWeight: wd, downBias: bd, upWeight: wu, upBias: bu }, x)
        : add(x, linear(gelu(linear(x, wd, bd)), wu, bu));
      backward(sumProduct(y, g));
      return [y.data, ...[x, ...ws].map((t) => t.grad!)];
    };
    try {
      const reference = run(false);
      for (const t of [1, 2]) {
        k.setThreads(t);
        k.resetPoolStats();
        run(true).forEach((a, i) => assert.ok(relativeError(a, reference[i]!) < 1e-5, `tensor ${i} at ${t} threads`));
        // 1000 rows are many row blocks: at 2 threads the fused kernel must really split them.
        if (t === 2) assert.ok(k.poolStats().sharedTasks > 1, `only ${k.poolStats().sharedTasks} pool task(s) ran at 2 threads`);
      }
    } finally {
      k.setThreads(threads);
    }
  });

  it('frozen weights get no gradient and a frozen input no dx', () => {
    const x = randomTensor(rng, [4, 8], false);
    const wd = randomTensor(rng, [8, 2], false);
    const wu = randomTensor(rng, [2, 8]);
    const y = bottleneckPatch(x, { downWeight: wd, downBias: null, upWeight: wu, upBias: null }, x);
    backward(sumProduct(y, new Float32Array(32).fill(1)));
    assert.equal(x.grad, null);
    assert.equal(wd.grad, null);
    assert.ok(wu.grad);
    assert.ok(noGrad(() => bottleneckPatch(x, { downWeight: wd, downBias: null, upWeight: wu, upBias: null }, null)).node === null);
  });
});
