import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, backend } from '../../src/index.js';
import { assertClose } from '../helpers/gradcheck.js';
import { matmulRef } from '../helpers/reference.js';

const k = backend();
const initial = k.info().gemmBackend;
const blasLoaded = k.info().blasPath !== '';
const rng = new Rng(7);

after(() => k.setGemmBackend(initial));

interface Case { M: number; N: number; K: number; ta: boolean; tb: boolean; alpha: number; beta: number; pad: number }

/** Runs one GEMM on the chosen backend with leading dimensions padded by `pad`, checks against float64. */
function runCase(which: 'blas' | 'builtin', c: Case, a: Float32Array, b: Float32Array, c0: Float32Array): Float32Array {
  k.setGemmBackend(which);
  const [ar, ac] = c.ta ? [c.K, c.M] : [c.M, c.K];
  const [br, bc] = c.tb ? [c.N, c.K] : [c.K, c.N];
  const lda = ac + c.pad;
  const ldb = bc + c.pad;
  const ldc = c.N + c.pad;
  const A = new Float32Array(ar * lda).fill(NaN);
  const B = new Float32Array(br * ldb).fill(NaN);
  const C = new Float32Array(c.M * ldc).fill(NaN);
  for (let i = 0; i < ar; i++) A.set(a.subarray(i * ac, (i + 1) * ac), i * lda);
  for (let i = 0; i < br; i++) B.set(b.subarray(i * bc, (i + 1) * bc), i * ldb);
  for (let i = 0; i < c.M; i++) C.set(c0.subarray(i * c.N, (i + 1) * c.N), i * ldc);
  k.gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C, ldc);
  const out = new Float32Array(c.M * c.N);
  for (let i = 0; i < c.M; i++) {
    out.set(C.subarray(i * ldc, i * ldc + c.N), i * c.N);
    for (let j = c.N; j < ldc; j++) assert.ok(Number.isNaN(C[i * ldc + j]!), 'gemm wrote outside its columns');
  }
  return out;
}

const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 7, 3], [7, 1, 3], [2, 3, 1], [13, 17, 19], [31, 37, 41], [64, 64, 64], [97, 5, 211],
  [5, 97, 211], [129, 65, 33], [200, 100, 64], [17, 300, 9],
];

describe('GEMM', () => {
  for (const [M, N, K] of shapes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`builtin ${M}x${N}x${K} transA=${ta} transB=${tb} matches float64 (and BLAS when loaded)`, () => {
        const a = rng.fillUniform(new Float32Array(M * K), -1, 1);
        const b = rng.fillUniform(new Float32Array(K * N), -1, 1);
        const c0 = rng.fillUniform(new Float32Array(M * N), -1, 1);
        for (const [alpha, beta, pad] of [[1, 0, 0], [0.5, 1, 3], [-2, 0.25, 1]] as const) {
          const cs: Case = { M, N, K, ta, tb, alpha, beta, pad };
          const prod = matmulRef(Float64Array.from(a), Float64Array.from(b), M, N, K, ta, tb);
          const expected = prod.map((v, i) => alpha * v + beta * c0[i]!);
          const builtin = runCase('builtin', cs, a, b, c0);
          assertClose(builtin, expected, 1e-5 * Math.sqrt(K), `builtin alpha=${alpha} beta=${beta}`);
          if (blasLoaded) {
            const blas = runCase('blas', cs, a, b, c0);
            assertClose(builtin, blas, 1e-5 * Math.sqrt(K), 'builtin vs BLAS');
          }
        }
      });
    }
  }

  it('beta = 0 never reads C (NaN in C does not leak into the result)', () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    const c = new Float32Array(4).fill(NaN);
    for (const which of blasLoaded ? (['builtin', 'blas'] as const) : (['builtin'] as const)) {
      k.setGemmBackend(which);
      k.gemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);
      assert.deepEqual(Array.from(c), [7, 10, 15, 22], which);
    }
  });

  it('a hand-computed 2x3 @ 3x2 product', () => {
    k.setGemmBackend('builtin');
    const c = new Float32Array(4);
    k.gemm(false, false, 2, 2, 3, 1, Float32Array.from([1, 2, 3, 4, 5, 6]), 3, Float32Array.from([7, 8, 9, 10, 11, 12]), 2, 0, c, 2);
    assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
  });

  it('builtin results are bit-identical for 1 and 2 threads (K is never split)', () => {
    k.setGemmBackend('builtin');
    const [M, N, K] = [300, 70, 500];
    const a = rng.fillUniform(new Float32Array(M * K), -1, 1);
    const b = rng.fillUniform(new Float32Array(K * N), -1, 1);
    const threads = k.info().threads;
    const shared: number[] = [];
    const results = [1, 2].map((t) => {
      k.setThreads(t);
      k.resetPoolStats();
      const c = new Float32Array(M * N);
      k.gemm(false, false, M, N, K, 1, a, K, b, N, 0, c, N);
      shared.push(k.poolStats().sharedTasks);
      return c;
    });
    k.setThreads(threads);
    // The product must really be split at 2 threads, or the comparison holds for a GEMM that never ran in parallel.
    assert.ok(shared[1]! > 1, `only ${shared[1]} pool task(s) ran at 2 threads`);
    assert.deepEqual(results[0], results[1]);
  });

  it('setGemmBackend refuses an unknown backend', () => {
    assert.throws(() => k.setGemmBackend('cuda' as 'blas'), /backend must be "blas" or "builtin"/);
  });
});
