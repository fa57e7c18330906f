import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, Tensor, backend, infoNce, l2Normalize, matmul, weightedSum } from '../../src/index.js';
import { gradCheck, randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(2021);

function l2NormalizeRef(x: Float64Array, rows: number, C: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c]! ** 2;
    const norm = Math.max(Math.sqrt(ss), 1e-12);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c]! / norm;
  }
  return y;
}

function infoNceRef(sim: Float64Array, positives: Int32Array, tau: number): number {
  const N = positives.length;
  let total = 0;
  for (let i = 0; i < N; i++) {
    let m = -Infinity;
    for (let j = 0; j < N; j++) if (j !== i) m = Math.max(m, sim[i * N + j]! / tau);
    let sum = 0;
    for (let j = 0; j < N; j++) if (j !== i) sum += Math.exp(sim[i * N + j]! / tau - m);
    total += m + Math.log(sum) - sim[i * N + positives[i]!]! / tau;
  }
  return total / N;
}

/** Two views per user, laid out [view a of users 0..B-1, view b of users 0..B-1]: the positive is the other view. */
function pairedPositives(B: number): Int32Array {
  return Int32Array.from({ length: 2 * B }, (_, i) => (i + B) % (2 * B));
}

describe('contrastive ops', () => {
  it('l2Normalize: unit rows, gradient vs finite differences', () => {
    const x = randomTensor(rng, [5, 4]);
    gradCheck(rng, {
      inputs: [x],
      kernel: ([x]) => l2Normalize(x!),
      reference: ([x]) => l2NormalizeRef(x!, 5, 4),
      kernelFiniteDifference: true,
    });
    const y = l2Normalize(x).data;
    for (let r = 0; r < 5; r++) {
      const n = Math.hypot(...y.subarray(r * 4, r * 4 + 4));
      assert.ok(Math.abs(n - 1) < 1e-6, `row ${r} has norm ${n}`);
    }
  });

  it('l2Normalize: an all-zero row stays finite and zero', () => {
    const x = Tensor.zeros([2, 3], true);
    x.data.set([3, 4, 0], 3);
    const y = l2Normalize(x);
    assert.deepEqual(y.data, Float32Array.from([0, 0, 0, 0.6, 0.8, 0]));
  });

  for (const tau of [0.1, 0.5, 1]) {
    it(`infoNce over a similarity matrix, temperature ${tau}`, () => {
      const positives = pairedPositives(3);
      const sim = randomTensor(rng, [6, 6]);
      gradCheck(rng, {
        inputs: [sim],
        kernel: ([s]) => infoNce(s!, positives, tau),
        reference: ([s]) => [infoNceRef(s!, positives, tau)],
        kernelFiniteDifference: true,
      });
    });
  }

  it('the whole chain z → normalise → z zᵀ → infoNce (the similarity GEMM is the ordinary matmul)', () => {
    const B = 3;
    const D = 4;
    const positives = pairedPositives(B);
    const z = randomTensor(rng, [2 * B, D]);
    gradCheck(rng, {
      inputs: [z],
      kernel: ([z]) => {
        const u = l2Normalize(z!);
        return infoNce(matmul(u, u, { transB: true }), positives, 0.2);
      },
      reference: ([z]) => {
        const u = l2NormalizeRef(z!, 2 * B, D);
        const sim = new Float64Array(4 * B * B);
        for (let i = 0; i < 2 * B; i++) {
          for (let j = 0; j < 2 * B; j++) {
            for (let c = 0; c < D; c++) sim[i * 2 * B + j] += u[i * D + c]! * u[j * D + c]!;
          }
        }
        return [infoNceRef(sim, positives, 0.2)];
      },
      kernelFiniteDifference: true,
    });
  });

  it('matching views give a lower loss than unrelated ones', () => {
    const B = 8;
    const a = randomTensor(rng, [B, 16], false);
    const same = new Tensor(Float32Array.from([...a.data, ...a.data]), [2 * B, 16]);
    const other = new Tensor(Float32Array.from([...a.data, ...randomTensor(rng, [B, 16], false).data]), [2 * B, 16]);
    const loss = (z: Tensor) => {
      const u = l2Normalize(z);
      return infoNce(matmul(u, u, { transB: true }), pairedPositives(B), 0.1).item();
    };
    assert.ok(loss(same) < loss(other) - 1, `${loss(same)} vs ${loss(other)}`);
  });

  it('weightedSum: Σ wᵢ xᵢ with gradient wᵢ to each term', () => {
    const a = randomTensor(rng, [1]);
    const b = randomTensor(rng, [1]);
    gradCheck(rng, {
      inputs: [a, b],
      kernel: ([a, b]) => weightedSum([a!, b!], [1, 0.25]),
      reference: ([a, b]) => [a![0]! + 0.25 * b![0]!],
    });
  });

  it('is the same for 1 and 2 threads on a batch large enough to split', () => {
    const k = backend();
    const before = k.info().threads;
    const N = 512;
    const z = randomTensor(rng, [N, 64], false);
    const positives = pairedPositives(N / 2);
    const run = (threads: number) => {
      k.setThreads(threads);
      const x = new Tensor(Float32Array.from(z.data), z.shape, true);
      const u = l2Normalize(x);
      const sim = matmul(u, u, { transB: true });
      const loss = infoNce(sim, positives, 0.5);
      return { loss: loss.item(), u: Float32Array.from(u.data) };
    };
    try {
      const one = run(1);
      k.resetPoolStats();
      const two = run(2);
      // N = 512 rows is above the row grain of every contrastive kernel: at 2 threads the work must really split.
      assert.ok(k.poolStats().sharedTasks > 1, `only ${k.poolStats().sharedTasks} pool task(s) ran at 2 threads`);
      assert.deepEqual(two, one);
    } finally {
      k.setThreads(before);
    }
  });

  it('bad arguments are clear errors, not crashes', () => {
    const k = backend();
    const sim = new Float32Array(16);
    const probs = new Float32Array(16);
    assert.throws(() => k.infoNceForward(sim, Int32Array.from([1, 0, 3, 2]), probs, 4, 0), /temperature must be a finite number > 0/);
    assert.throws(() => k.infoNceForward(sim, Int32Array.from([0, 0, 3, 2]), probs, 4, 1), /positives\[0\] = 0 must be another row/);
    assert.throws(() => k.infoNceForward(sim, Int32Array.from([1, 0, 3, 9]), probs, 4, 1), /positives\[3\] = 9/);
    assert.throws(() => k.infoNceForward(sim, Int32Array.from([1, 0, 3]), probs, 4, 1), /positives has 3 elements, expected 4/);
    assert.throws(() => k.infoNceForward(new Float32Array(1), Int32Array.from([0]), new Float32Array(1), 1, 1), /at least 2 views/);
    assert.throws(() => k.infoNceBackward(probs, Int32Array.from([1, 0, 3, 2]), 1, new Float32Array(3), 4, 1), /dsim has 3 elements/);
    assert.throws(() => k.l2NormalizeForward(new Float32Array(6), new Float32Array(5), new Float32Array(2), 2, 3, 1e-12), /y has 5 elements/);
    assert.throws(() => k.l2NormalizeBackward(new Float32Array(6), new Float32Array(2), new Float32Array(6), new Float32Array(6), 2, 3, -1), /eps must be/);
    assert.throws(() => infoNce(Tensor.zeros([2, 3]), Int32Array.from([1, 0]), 1), /must be square/);
  });
});
