import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Rng, Tensor, add, dilatedConv1d, embedding, embeddingBag, gelu, leadingRows, layerNorm, linear, matmul, relu, reshape,
  negativeBce, sampledSoftmaxCrossEntropy, softmaxCrossEntropy,
} from '../../src/index.js';
import { gradCheck, randomTensor } from '../helpers/gradcheck.js';
import {
  conv1dRef, embeddingRef, geluRef, layerNormRef, matmulRef, negativeBceRef, reluRef, sampledSoftmaxRef, softmaxXentRef,
} from '../helpers/reference.js';

const rng = new Rng(20200725);

describe('gradient checks (kernel backward vs finite differences of a float64 reference)', () => {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matmul transA=${transA} transB=${transB}`, () => {
      const [M, N, K] = [3, 5, 4];
      const a = randomTensor(rng, transA ? [K, M] : [M, K]);
      const b = randomTensor(rng, transB ? [N, K] : [K, N]);
      gradCheck(rng, {
        inputs: [a, b],
        kernel: ([x, y]) => matmul(x!, y!, { transA, transB }),
        reference: ([x, y]) => matmulRef(x!, y!, M, N, K, transA, transB),
        kernelFiniteDifference: true,
      });
    });
  }

  it('linear over the last dimension with bias', () => {
    const x = randomTensor(rng, [2, 3, 4]);
    const w = randomTensor(rng, [4, 5]);
    const b = randomTensor(rng, [5]);
    gradCheck(rng, {
      inputs: [x, w, b],
      kernel: ([x, w, b]) => linear(x!, w!, b!),
      reference: ([x, w, b]) => matmulRef(x!, w!, 6, 5, 4, false, false).map((v, i) => v + b![i % 5]!),
      kernelFiniteDifference: true,
    });
  });

  for (const causal of [true, false]) {
    for (const [k, dilation] of [[3, 1], [3, 2], [3, 4], [1, 1], [2, 3], [5, 1]] as const) {
      if (!causal && k % 2 === 0) continue;
      it(`dilatedConv1d ${causal ? 'causal' : 'centred'} k=${k} dilation=${dilation}`, () => {
        const [B, L, Cin, Cout] = [2, 7, 3, 4];
        const x = randomTensor(rng, [B, L, Cin]);
        const w = randomTensor(rng, [k, Cin, Cout]);
        const b = randomTensor(rng, [Cout]);
        gradCheck(rng, {
          inputs: [x, w, b],
          kernel: ([x, w, b]) => dilatedConv1d(x!, w!, b!, { dilation, causal }),
          reference: ([x, w, b]) => conv1dRef(x!, w!, b!, B, L, Cin, Cout, k, dilation, causal),
          kernelFiniteDifference: true,
        });
      });
    }
  }

  for (const causal of [true, false]) {
    it(`dilatedConv1d ${causal ? 'causal' : 'centred'} over left-padded sequences (padding reads as zeros)`, () => {
      const [B, L, Cin, Cout] = [4, 9, 3, 5];
      const starts = Int32Array.from([0, 3, 8, 9]); // none, some, all but one, all padding
      const x = randomTensor(rng, [B, L, Cin]);
      const w = randomTensor(rng, [3, Cin, Cout]);
      const b = randomTensor(rng, [Cout]);
      gradCheck(rng, {
        inputs: [x, w, b],
        kernel: ([x, w, b]) => dilatedConv1d(x!, w!, b!, { dilation: 2, causal, starts }),
        reference: ([x, w, b]) => conv1dRef(x!, w!, b!, B, L, Cin, Cout, 3, 2, causal, starts),
        kernelFiniteDifference: true,
      });
    });
  }

  it('dilatedConv1d over many sequences (several row blocks inside the kernel)', () => {
    const [B, L, Cin, Cout] = [30, 20, 2, 2];
    const x = randomTensor(rng, [B, L, Cin]);
    const w = randomTensor(rng, [3, Cin, Cout]);
    const b = randomTensor(rng, [Cout]);
    gradCheck(rng, {
      inputs: [x, w, b],
      kernel: ([x, w, b]) => dilatedConv1d(x!, w!, b!, { dilation: 4, causal: true }),
      reference: ([x, w, b]) => conv1dRef(x!, w!, b!, B, L, Cin, Cout, 3, 4, true),
    });
  });

  for (const fuseRelu of [false, true]) {
    it(`layerNorm${fuseRelu ? ' + fused ReLU' : ''}`, () => {
      const [rows, C] = [5, 6];
      const x = randomTensor(rng, [rows, C]);
      const gamma = randomTensor(rng, [C]);
      const beta = randomTensor(rng, [C]);
      gradCheck(rng, {
        inputs: [x, gamma, beta],
        kernel: ([x, g, b]) => layerNorm(x!, g!, b!, { eps: 1e-5, relu: fuseRelu }),
        reference: ([x, g, b]) => layerNormRef(x!, g!, b!, rows, C, 1e-5, fuseRelu),
        kernelFiniteDifference: !fuseRelu,
      });
    });
  }

  for (const fuseRelu of [false, true]) {
    it(`layerNorm${fuseRelu ? ' + fused ReLU' : ''} + fused residual add`, () => {
      const [rows, C] = [5, 6];
      const x = randomTensor(rng, [rows, C]);
      const gamma = randomTensor(rng, [C]);
      const beta = randomTensor(rng, [C]);
      const res = randomTensor(rng, [rows, C]);
      gradCheck(rng, {
        inputs: [x, gamma, beta, res],
        kernel: ([x, g, b, r]) => layerNorm(x!, g!, b!, { eps: 1e-5, relu: fuseRelu, residual: r! }),
        reference: ([x, g, b, r]) => layerNormRef(x!, g!, b!, rows, C, 1e-5, fuseRelu).map((v, i) => v + r![i]!),
        kernelFiniteDifference: !fuseRelu,
      });
    });
  }

  it('layerNorm with the paper\'s eps 1e-8', () => {
    const x = randomTensor(rng, [4, 8]);
    const gamma = randomTensor(rng, [8]);
    const beta = randomTensor(rng, [8]);
    gradCheck(rng, {
      inputs: [x, gamma, beta],
      kernel: ([x, g, b]) => layerNorm(x!, g!, b!, { eps: 1e-8 }),
      reference: ([x, g, b]) => layerNormRef(x!, g!, b!, 4, 8, 1e-8, false),
    });
  });

  it('relu', () => {
    const x = randomTensor(rng, [4, 5]);
    gradCheck(rng, { inputs: [x], kernel: ([x]) => relu(x!), reference: ([x]) => reluRef(x!) });
  });

  it('gelu (tanh form)', () => {
    const x = randomTensor(rng, [4, 5], true, 3);
    gradCheck(rng, {
      inputs: [x], kernel: ([x]) => gelu(x!), reference: ([x]) => geluRef(x!), kernelFiniteDifference: true,
    });
  });

  it('add and reshape', () => {
    const a = randomTensor(rng, [2, 6]);
    const b = randomTensor(rng, [2, 6]);
    gradCheck(rng, {
      inputs: [a, b],
      kernel: ([a, b]) => reshape(add(a!, b!), [3, 4]),
      reference: ([a, b]) => a!.map((v, i) => v + b![i]!),
      kernelFiniteDifference: true,
    });
  });

  it('embedding gather / scatter-add with repeated ids', () => {
    const table = randomTensor(rng, [6, 3]);
    const ids = Int32Array.from([1, 4, 1, 0, 5, 1]);
    gradCheck(rng, {
      inputs: [table],
      kernel: ([t]) => embedding(t!, ids, [2, 3]),
      reference: ([t]) => embeddingRef(t!, ids, 3),
      kernelFiniteDifference: true,
    });
  });

  it('embedding bags: weighted sums of gathered rows, repeated ids and an empty bag', () => {
    const table = randomTensor(rng, [6, 3]);
    const ids = Int32Array.from([1, 4, 1, 0, 5, 1, 2]);
    const weights = Float32Array.from([0.5, -1, 2, 0.25, 1, 0.75, -0.5]);
    const offsets = Int32Array.from([0, 3, 3, 7]);
    gradCheck(rng, {
      inputs: [table],
      kernel: ([t]) => embeddingBag(t!, ids, weights, offsets),
      reference: ([t]) => {
        const out = new Float64Array(3 * 3);
        for (let s = 0; s < 3; s++) {
          for (let r = offsets[s]!; r < offsets[s + 1]!; r++) {
            for (let c = 0; c < 3; c++) out[s * 3 + c]! += weights[r]! * t![ids[r]! * 3 + c]!;
          }
        }
        return out;
      },
      kernelFiniteDifference: true,
    });
    assert.ok(table.grad!.subarray(3 * 3, 4 * 3).every((x) => x === 0), 'a row no bag reads gets no gradient');
    assert.throws(() => embeddingBag(table, ids, weights.subarray(1), offsets), /6 weights for 7 ids/);
    assert.throws(() => embeddingBag(table, ids, weights, Int32Array.from([0, 3, 6])), /offsets end at 6, expected 7/);
  });

  it('leading rows of a table (a tied softmax without the mask row): a view whose gradient reaches only those rows', () => {
    const table = randomTensor(rng, [6, 3]);
    gradCheck(rng, {
      inputs: [table],
      kernel: ([t]) => leadingRows(t!, 4),
      reference: ([t]) => t!.slice(0, 12),
      kernelFiniteDifference: true,
    });
    assert.ok(table.grad!.subarray(12).every((x) => x === 0), 'the rows after them get no gradient');
    assert.throws(() => leadingRows(table, 7), /7 rows of a table of 6/);
  });

  for (const withBias of [false, true]) {
    it(`full softmax cross-entropy${withBias ? ' with bias' : ''}, padding targets ignored`, () => {
      const [N, C, V] = [5, 4, 9];
      const h = randomTensor(rng, [N, C]);
      const table = randomTensor(rng, [V, C]);
      const bias = randomTensor(rng, [V]);
      const targets = Int32Array.from([3, 0, 8, 1, 3]);
      const inputs = withBias ? [h, table, bias] : [h, table];
      gradCheck(rng, {
        inputs,
        kernel: ([h, t, b]) => softmaxCrossEntropy(h!, t!, b ?? null, targets, { ignoreIndex: 0 }),
        reference: ([h, t, b]) => [softmaxXentRef(h!, t!, b ?? null, targets, N, C, V, 0)],
        kernelFiniteDifference: true,
      });
    });
  }

  for (const V of [9, 3000]) {
    it(`full softmax cross-entropy with sparse extra logits (V=${V}), a padding row and a repeated column`, () => {
      const [N, C] = [4, 3];
      const h = randomTensor(rng, [N, C]);
      const table = randomTensor(rng, [V, C]);
      const bias = randomTensor(rng, [V]);
      const targets = Int32Array.from([2, -1, V - 1, 5]);
      // Row 0: the target column and another; row 1 (ignored) has entries; row 2: the last column twice; row 3: none.
      const indptr = Int32Array.from([0, 2, 3, 6, 6]);
      const cols = Int32Array.from([2, 7, 4, V - 1, 0, V - 1]);
      const values = randomTensor(rng, [cols.length]);
      const extra = (x: Tensor) => ({ ignoreIndex: -1, extraLogits: { indptr, cols, values: x } });
      const refExtra = (x: Float64Array) => ({ indptr, cols, values: x });
      if (V < 100) {
        gradCheck(rng, {
          inputs: [h, table, bias, values],
          kernel: ([h, t, b, x]) => softmaxCrossEntropy(h!, t!, b!, targets, extra(x!)),
          reference: ([h, t, b, x]) => [softmaxXentRef(h!, t!, b!, targets, N, C, V, -1, refExtra(x!))],
        });
      } else {
        // Many chunks: the table stays fixed so the finite differences stay cheap.
        const [t64, b64] = [Float64Array.from(table.data), Float64Array.from(bias.data)];
        gradCheck(rng, {
          inputs: [h, values],
          kernel: ([h, x]) => softmaxCrossEntropy(h!, table, bias, targets, extra(x!)),
          reference: ([h, x]) => [softmaxXentRef(h!, t64, b64, targets, N, C, V, -1, refExtra(x!))],
        });
      }
    });
  }

  it('full softmax cross-entropy streams over many vocabulary chunks', () => {
    // V large enough that the kernel needs several chunks for N=3 rows.
    const [N, C, V] = [3, 2, 3000];
    const h = randomTensor(rng, [N, C]);
    const table = randomTensor(rng, [V, C]);
    const targets = Int32Array.from([2999, 17, 1500]);
    gradCheck(rng, {
      inputs: [h],
      kernel: ([h]) => softmaxCrossEntropy(h!, table, null, targets, { ignoreIndex: -1 }),
      reference: ([h]) => [softmaxXentRef(h!, Float64Array.from(table.data), null, targets, N, C, V, -1)],
    });
  });

  it('full softmax cross-entropy stays accurate for logits spanning ±60 (vectorised exp)', () => {
    const [N, C, V] = [4, 3, 500];
    const h = randomTensor(rng, [N, C], true, 6);
    const table = randomTensor(rng, [V, C], false, 6);
    const targets = Int32Array.from([1, 250, 499, 7]);
    gradCheck(rng, {
      inputs: [h],
      kernel: ([h]) => softmaxCrossEntropy(h!, table, null, targets, { ignoreIndex: -1 }),
      reference: ([h]) => [softmaxXentRef(h!, Float64Array.from(table.data), null, targets, N, C, V, -1)],
      forwardTol: 1e-5,
    });
  });

  for (const withLogQ of [false, true]) {
    it(`sampled softmax with shared negatives${withLogQ ? ' and logQ correction' : ''}, accidental hits removed`, () => {
      const [N, C, V] = [4, 3, 10];
      const h = randomTensor(rng, [N, C]);
      const table = randomTensor(rng, [V, C]);
      const bias = randomTensor(rng, [V]);
      const targets = Int32Array.from([2, 7, 0, 5]);
      const negatives = Int32Array.from([7, 1, 9, 7, 3]);
      const logQ = withLogQ ? Float32Array.from({ length: V }, (_, v) => Math.log((v + 1) / 55)) : null;
      gradCheck(rng, {
        inputs: [h, table, bias],
        kernel: ([h, t, b]) => sampledSoftmaxCrossEntropy(h!, t!, b!, targets, negatives, { logQ, ignoreIndex: 0 }),
        reference: ([h, t, b]) => [
          sampledSoftmaxRef(h!, t!, b!, targets, negatives, logQ ? Float64Array.from(logQ) : null, N, C, 0),
        ],
        kernelFiniteDifference: true,
      });
    });
  }

  it('binary cross-entropy with one negative per row: a padded row left out, an accidental hit dropped, repeated rows summed', () => {
    const [N, C, V] = [5, 3, 10];
    const h = randomTensor(rng, [N, C]);
    const table = randomTensor(rng, [V, C]);
    const bias = randomTensor(rng, [V]);
    const targets = Int32Array.from([2, 7, 0, 5, 2]);
    const negatives = Int32Array.from([7, 7, 4, 9, 3]);
    gradCheck(rng, {
      inputs: [h, table, bias],
      kernel: ([h, t, b]) => negativeBce(h!, t!, b!, targets, negatives, { ignoreIndex: 0 }),
      reference: ([h, t, b]) => [negativeBceRef(h!, t!, b!, targets, negatives, N, C, 0)],
      kernelFiniteDifference: true,
    });
  });

  it('a residual block composed of the ops (conv → LN+ReLU → conv → LN+ReLU → +x)', () => {
    const [B, L, C] = [2, 6, 4];
    const x = randomTensor(rng, [B, L, C]);
    const params = [randomTensor(rng, [3, C, C]), randomTensor(rng, [C]), randomTensor(rng, [3, C, C]), randomTensor(rng, [C])];
    const gamma = Tensor.from(new Array(C).fill(1), [C]);
    const beta = Tensor.zeros([C]);
    gradCheck(rng, {
      inputs: [x, ...params],
      kernel: ([x, w1, b1, w2, b2]) => {
        const h1 = layerNorm(dilatedConv1d(x!, w1!, b1!, { dilation: 1, causal: true }), gamma, beta, { eps: 1e-8, relu: true });
        const h2 = layerNorm(dilatedConv1d(h1, w2!, b2!, { dilation: 2, causal: true }), gamma, beta, { eps: 1e-8, relu: true });
        return add(h2, x!);
      },
      reference: ([x, w1, b1, w2, b2]) => {
        const one = new Float64Array(C).fill(1);
        const zero = new Float64Array(C);
        const h1 = layerNormRef(conv1dRef(x!, w1!, b1!, B, L, C, C, 3, 1, true), one, zero, B * L, C, 1e-8, true);
        const h2 = layerNormRef(conv1dRef(h1, w2!, b2!, B, L, C, C, 3, 2, true), one, zero, B * L, C, 1e-8, true);
        return h2.map((v, i) => v + x![i]!);
      },
    });
  });
});
