import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  Parameter, Rng, add, backend, backward, bottleneckPatch, dilatedConv1d, embedding, gelu, layerNorm, linear, relu,
  reshape, sampledSoftmaxCrossEntropy, softmaxCrossEntropy,
} from '../../src/index.js';

const k = backend();
const initialThreads = k.info().threads;
const initialDeterministic = k.info().deterministic;
after(() => {
  k.setThreads(initialThreads);
  k.setDeterministic(initialDeterministic);
});

/** Tasks the pool shared with its workers while fn ran: > 1 means the work was really split across threads. */
function sharedTasks(fn: () => void): number {
  k.resetPoolStats();
  fn();
  return k.poolStats().sharedTasks;
}

/**
 * Shapes above every kernel's parallel threshold (GEMM 2^20 multiply-adds, layer-norm and patch row blocks, 1024
 * embedding ids, 2^16-element reductions), so the thread count really changes how work is split.
 */
const [B, L, C, D, V] = [16, 128, 48, 12, 1500];
const N = B * L;

/** One seeded forward+backward through every kernel family; returns the loss and all gradients. */
function trainingStepFingerprint(): Float32Array[] {
  const rng = new Rng(123);
  const param = (name: string, shape: number[], rowSparse = false) =>
    new Parameter(name, rng.fillTruncatedNormal(new Float32Array(shape.reduce((a, b) => a * b)), 0.2), shape, { rowSparse });
  const items = param('items', [V, C], true);
  const w1 = param('w1', [3, C, C]);
  const w2 = param('w2', [3, C, C]);
  const gamma = param('gamma', [C]);
  const beta = param('beta', [C]);
  const down = param('down', [C, D]);
  const up = param('up', [D, C]);
  const proj = param('proj', [C, C]);
  const projBias = param('projBias', [C]);
  const ids = Int32Array.from({ length: N }, () => rng.int(1, V));
  const targets = Int32Array.from({ length: N }, () => rng.int(0, V));
  const x = embedding(items, ids, [B, L]);
  const h1 = layerNorm(dilatedConv1d(x, w1, null, { dilation: 2, causal: true }), gamma, beta, { eps: 1e-8, relu: true });
  const patched = bottleneckPatch(h1, { downWeight: down, downBias: null, upWeight: up, upBias: null }, h1);
  const h = add(dilatedConv1d(patched, w2, null, { dilation: 4, causal: false }), x);
  const rows = reshape(relu(gelu(linear(h, proj, projBias))), [N, C]);
  const loss1 = softmaxCrossEntropy(rows, items, null, targets);
  const loss2 = sampledSoftmaxCrossEntropy(rows, items, null, targets, Int32Array.from([3, 9, 27, 81, 243]));
  backward(add(loss1, loss2));
  return [loss1.data, loss2.data, ...[items, w1, w2, gamma, beta, down, up, proj, projBias].map((p) => p.grad!)];
}

const random = (rng: Rng, n: number) => rng.fillUniform(new Float32Array(n), -1, 1);

/** Pool tasks of each kernel call of the current run, in call order: a group's every kernel must split, not one. */
let callTasks: number[] = [];
function split<T>(call: () => T): T {
  k.resetPoolStats();
  const result = call();
  callTasks.push(k.poolStats().sharedTasks);
  return result;
}

/**
 * Every kernel at a shape above its parallel threshold, writing only into the buffers it returns (fresh each
 * call, from the same seed), so a run at 1 thread and one at 2 threads can be compared bit for bit.
 */
const KERNELS: [string, () => Float32Array[]][] = [
  ['gemm', () => {
    const rng = new Rng(1);
    const [a, b, c] = [random(rng, 128 * 96), random(rng, 96 * 128), new Float32Array(128 * 128)];
    split(() => k.gemm(false, false, 128, 128, 96, 1, a, 96, b, 128, 0, c, 128));
    return [c];
  }],
  ['conv1dForward/Backward', () => {
    const rng = new Rng(2);
    const [x, w, bias, dy] = [random(rng, N * C), random(rng, 3 * C * C), random(rng, C), random(rng, N * C)];
    const y = new Float32Array(N * C), dx = new Float32Array(N * C), dw = new Float32Array(3 * C * C), db = new Float32Array(C);
    split(() => k.conv1dForward(x, w, bias, y, B, L, C, C, 3, 2, true));
    split(() => k.conv1dBackward(x, w, dy, dx, dw, db, B, L, C, C, 3, 2, true));
    return [y, dx, dw, db];
  }],
  ['layerNormForward/Backward', () => {
    const rng = new Rng(3);
    const [x, gamma, beta, dy] = [random(rng, N * C), random(rng, C), random(rng, C), random(rng, N * C)];
    const y = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
    const dx = new Float32Array(N * C), dg = new Float32Array(C), dbeta = new Float32Array(C);
    split(() => k.layerNormForward(x, gamma, beta, y, mean, rstd, N, C, 1e-8, true));
    split(() => k.layerNormBackward(x, gamma, mean, rstd, y, dy, dx, dg, dbeta, N, C));
    return [y, dx, dg, dbeta];
  }],
  ['relu/gelu forward and backward', () => {
    const rng = new Rng(4);
    const [x, dy] = [random(rng, N * C), random(rng, N * C)];
    const out = Array.from({ length: 4 }, () => new Float32Array(N * C));
    split(() => k.reluForward(x, out[0]!));
    split(() => k.reluBackward(out[0]!, dy, out[1]!));
    split(() => k.geluForward(x, out[2]!));
    split(() => k.geluBackward(x, dy, out[3]!));
    return out;
  }],
  ['embeddingForward/Backward', () => {
    const rng = new Rng(5);
    const table = random(rng, V * C), dout = random(rng, N * C);
    const ids = Int32Array.from({ length: N }, () => rng.int(0, V));
    const out = new Float32Array(N * C), dtable = new Float32Array(V * C);
    split(() => k.embeddingForward(table, ids, out, V, C));
    split(() => k.embeddingBackward(ids, dout, dtable, V, C));
    return [out, dtable];
  }],
  ['embeddingBagForward/Backward', () => {
    const rng = new Rng(15);
    const table = random(rng, V * C), weights = random(rng, N);
    const ids = Int32Array.from({ length: N }, () => rng.int(0, V));
    const bags = N / 4, offsets = Int32Array.from({ length: bags + 1 }, (_, s) => s * 4);
    const out = new Float32Array(bags * C), dtable = new Float32Array(V * C);
    split(() => k.embeddingBagForward(table, ids, weights, offsets, out, V, C));
    split(() => k.embeddingBagBackward(ids, weights, offsets, random(rng, bags * C), dtable, V, C));
    return [out, dtable];
  }],
  ['softmaxXentForward/Backward', () => {
    const rng = new Rng(6);
    const [h, table, bias] = [random(rng, N * C), random(rng, V * C), random(rng, V)];
    const targets = Int32Array.from({ length: N }, () => rng.int(0, V));
    const lse = new Float32Array(N), dh = new Float32Array(N * C), dt = new Float32Array(V * C), dbias = new Float32Array(V);
    const loss = split(() => k.softmaxXentForward(h, table, bias, targets, lse, N, C, V, 0));
    split(() => k.softmaxXentBackward(h, table, bias, targets, lse, 1 / N, dh, dt, dbias, N, C, V, 0));
    return [Float32Array.of(loss), lse, dh, dt, dbias];
  }],
  ['sampledSoftmaxForward/Backward', () => {
    const rng = new Rng(7);
    const [h, table, bias] = [random(rng, N * C), random(rng, V * C), random(rng, V)];
    const targets = Int32Array.from({ length: N }, () => rng.int(0, V));
    const negatives = Int32Array.from({ length: 50 }, () => rng.int(1, V));
    const probs = new Float32Array(N * 51), dh = new Float32Array(N * C), dt = new Float32Array(V * C), dbias = new Float32Array(V);
    const loss = split(() => k.sampledSoftmaxForward(h, table, bias, targets, negatives, null, probs, N, C, V, 0));
    split(() => k.sampledSoftmaxBackward(h, table, bias, targets, negatives, probs, 1 / N, dh, dt, dbias, N, C, V, 0));
    return [Float32Array.of(loss), probs, dh, dt, dbias];
  }],
  ['negativeBceForward/Backward', () => {
    const rng = new Rng(17);
    const [h, table, bias] = [random(rng, N * C), random(rng, V * C), random(rng, V)];
    const targets = Int32Array.from({ length: N }, () => rng.int(0, V));
    const negatives = Int32Array.from({ length: N }, () => rng.int(1, V));
    const probs = new Float32Array(N * 2), dh = new Float32Array(N * C), dt = new Float32Array(V * C), dbias = new Float32Array(V);
    const loss = split(() => k.negativeBceForward(h, table, bias, targets, negatives, probs, N, C, V, 0));
    split(() => k.negativeBceBackward(h, table, bias, targets, negatives, probs, 1 / N, dh, dt, dbias, N, C, V, 0));
    return [Float32Array.of(loss), probs, dh, dt, dbias];
  }],
  ['patchForward/Backward', () => {
    const rng = new Rng(8);
    const [x, wd, bd, wu, bu, dy] = [random(rng, N * C), random(rng, C * D), random(rng, D), random(rng, D * C), random(rng, C), random(rng, N * C)];
    const hidden = new Float32Array(N * D), y = new Float32Array(N * C), dx = new Float32Array(N * C);
    const grads = [new Float32Array(C * D), new Float32Array(D), new Float32Array(D * C), new Float32Array(C)] as const;
    split(() => k.patchForward(x, wd, bd, wu, bu, x, hidden, y, N, C, D));
    split(() => k.patchBackward(x, wd, wu, hidden, dy, dx, ...grads, N, C, D, true));
    return [hidden, y, dx, ...grads];
  }],
  ['adamStep dense and row-sparse', () => {
    const rng = new Rng(9);
    const n = V * C;
    const [p, g, m, v] = [random(rng, n), random(rng, n), new Float32Array(n), new Float32Array(n)];
    split(() => k.adamStep(p, g, m, v, null, C, 1e-3, 0.9, 0.999, 1e-8, 0.01, true, 1));
    const rows = Int32Array.from({ length: 600 }, (_, i) => i * 2);
    rng.fillUniform(g, -1, 1);
    split(() => k.adamStep(p, g, m, v, rows, C, 1e-3, 0.9, 0.999, 1e-8, 0, false, 2));
    return [p, g, m, v];
  }],
  ['reductions and vector kernels', () => {
    const rng = new Rng(10);
    const [rows, cols] = [16384, 1024];
    const x = random(rng, rows * cols), y = random(rng, rows * cols), v = random(rng, cols);
    const sums = [split(() => k.sumSquares(x)), split(() => k.sum(x))];
    const out = new Float32Array(rows * cols), colSums = new Float32Array(cols);
    split(() => k.add(x, y, out));
    split(() => k.axpy(out, 0.5, x));
    split(() => k.scale(out, 0.25));
    split(() => k.addRowVector(out, v, rows, cols));
    split(() => k.sumRows(out, rows, cols, colSums));
    return [Float64Array.from(sums) as unknown as Float32Array, out, colSums];
  }],
];

describe('determinism', () => {
  for (const [name, run] of KERNELS) {
    it(`${name}: splits across 2 threads and is bit-identical to 1 thread in deterministic mode`, () => {
      k.setDeterministic(true);
      k.setThreads(1);
      callTasks = [];
      const one = run();
      assert.ok(callTasks.length > 0 && callTasks.every((t) => t === 0), 'one thread shares nothing');
      k.setThreads(2);
      callTasks = [];
      const two = run();
      callTasks.forEach((tasks, call) =>
        assert.ok(tasks > 1, `${name}: kernel call ${call + 1} ran ${tasks} pool task(s) at 2 threads; its shape is below the kernel's threshold`));
      one.forEach((a, i) => assert.deepEqual(two[i], a, `${name}: output ${i}`));
    });
  }

  it('deterministic mode gives bit-identical losses and gradients for 1 and 2 threads', () => {
    k.setDeterministic(true);
    k.setThreads(1);
    const one = trainingStepFingerprint();
    k.setThreads(2);
    let two: Float32Array[] = [];
    const tasks = sharedTasks(() => (two = trainingStepFingerprint()));
    assert.ok(tasks > 1, `only ${tasks} pool task(s) ran at 2 threads`);
    one.forEach((a, i) => assert.deepEqual(two[i], a, `tensor ${i}`));
  });

  it('the same seed gives bit-identical results run after run', () => {
    const a = trainingStepFingerprint();
    const b = trainingStepFingerprint();
    a.forEach((x, i) => assert.deepEqual(x, b[i], `tensor ${i}`));
  });
});
