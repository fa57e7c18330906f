import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

/**
 * Property test of every native binding: random argument lists (random shapes and lengths; ids negative, past the
 * table, NaN, huge; null, undefined and detached buffers; typed arrays of the wrong kind; non-numbers) must end in
 * a JS exception or a normal return — never a crash or a hang. Runs in a child process with a time limit, so a
 * crash fails this test with the seed and the call instead of killing the runner. GRAFTREC_FUZZ_CASES sets the
 * number of calls per binding (default 300; run longer by hand, e.g. 20000).
 */
const CASES = Number(process.env.GRAFTREC_FUZZ_CASES ?? 300);
const SEED = Number(process.env.GRAFTREC_FUZZ_SEED ?? 1);
const INDEX_URL = new URL('../../src/index.js', import.meta.url).href;

// The child: plain JS, so it can run under any Node flags (and, in CI, under the sanitizers).
const CHILD = `
const { backend, KernelError } = await import(${JSON.stringify(INDEX_URL)});
const k = backend();
const cases = ${CASES};
let state = ${SEED} >>> 0;
const rand = () => { state = (state * 1664525 + 1013904223) >>> 0; return state / 4294967296; };
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const small = () => pick([0, 1, 1, 2, 2, 3, 4, 5, 6, 8, 12, 16]);
const lengths = () => pick([0, 1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 27, 32, 36, 48, 64, 96, 128]);
const f32 = () => { const a = new Float32Array(lengths()); for (let i = 0; i < a.length; i++) a[i] = pick([0, 1, -1, rand(), -rand() * 100, NaN, Infinity, -Infinity, 3.4e38]); return a; };
const i32 = () => { const a = new Int32Array(lengths()); for (let i = 0; i < a.length; i++) a[i] = pick([0, 1, 2, 3, small(), -1, -2147483648, 2147483647, 1000000]); return a; };
const u8 = () => { const a = new Uint8Array(lengths()); for (let i = 0; i < a.length; i++) a[i] = pick([0, 1, 255]); return a; };
const detached = () => { const a = new Float32Array(8); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
const value = () => {
  const r = rand();
  if (r < 0.35) return small();
  if (r < 0.55) return f32();
  if (r < 0.62) return i32();
  if (r < 0.66) return u8();
  if (r < 0.72) return pick([true, false]);
  if (r < 0.76) return pick([null, undefined]);
  if (r < 0.80) return pick([NaN, Infinity, -Infinity, -1, 0.5, 2 ** 31, 2 ** 53, 1e308, -0]);
  if (r < 0.84) return pick([new Float64Array(4), new Int16Array(4), new Uint32Array(4), new DataView(new ArrayBuffer(8)), new ArrayBuffer(16)]);
  if (r < 0.87) return detached();
  if (r < 0.90) return pick(['blas', 'builtin', '', 'x', {}, [], () => 1, Symbol('s'), 10n]);
  return pick([1e-5, 0.9, 0.999, 1e-8, 0.01, -1]);
};
// Valid calls of every kernel at small random shapes: the near-valid mode replaces one argument of such a call,
// so the checks deep in a kernel (ids, lengths against every shape argument) are reached, not only the first one.
const F = (n) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1; return a; };
const I = (n, hi) => Int32Array.from({ length: n }, () => Math.floor(rand() * hi));
// Segment offsets of S segments of R rows each, and a validity mask.
const O = (S, R) => Int32Array.from({ length: S + 1 }, (_, s) => s * R);
const U = (n) => Uint8Array.from({ length: n }, () => (rand() < 0.7 ? 1 : 0));
const templates = {
  gemm: (M, N, K) => [false, rand() < 0.5, M, N, K, 1, F(M * K), K, F(N * K), K, 0, F(M * N), N],
  conv1dForward: (B, L, C) => [F(B * L * C), F(3 * C * C), F(C), F(B * L * C), B, L, C, C, 3, 2, rand() < 0.5, rand() < 0.5 ? I(B, L + 1) : null],
  conv1dBackward: (B, L, C) => [F(B * L * C), F(3 * C * C), F(B * L * C), F(B * L * C), F(3 * C * C), F(C), B, L, C, C, 3, 1, true, rand() < 0.5 ? I(B, L + 1) : null, rand() < 0.5],
  layerNormForward: (R, C) => [F(R * C), F(C), F(C), F(R * C), F(R), F(R), R, C, 1e-5, rand() < 0.5, rand() < 0.5 ? F(R * C) : null],
  layerNormBackward: (R, C) => [F(R * C), F(C), F(R), F(R), F(R * C), F(R * C), F(R * C), F(C), F(C), R, C, rand() < 0.5, rand() < 0.5 ? F(C) : null],
  reluForward: (n) => [F(n), F(n)], reluBackward: (n) => [F(n), F(n), F(n)],
  geluForward: (n) => [F(n), F(n)], geluBackward: (n) => [F(n), F(n), F(n)],
  embeddingForward: (V, C, n) => [F(V * C), I(n, V), F(n * C), V, C],
  embeddingBackward: (V, C, n) => [I(n, V), F(n * C), F(V * C), V, C],
  embeddingBagForward: (V, C, n) => [F(V * C), I(n, V), F(n), O(1, n), F(C), V, C],
  embeddingBagBackward: (V, C, n) => [I(n, V), F(n), O(1, n), F(C), F(V * C), V, C],
  markRows: (V, C, n) => [I(n, V), new Uint8Array(V)], collectRows: (V) => [Uint8Array.from({ length: V }, () => rand() < 0.5 ? 1 : 0)],
  softmaxXentForward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), F(N), N, C, V, 0],
  softmaxXentBackward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), F(N), 0.5, F(N * C), F(V * C), F(V), N, C, V, 0],
  sampledSoftmaxForward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), I(3, V), F(V), F(N * 4), N, C, V, 0],
  sampledSoftmaxBackward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), I(3, V), F(N * 4), 0.5, F(N * C), F(V * C), F(V), N, C, V, 0],
  negativeBceForward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), I(N, V), F(N * 2), N, C, V, 0],
  negativeBceBackward: (N, C, V) => [F(N * C), F(V * C), F(V), I(N, V), I(N, V), F(N * 2), 0.5, F(N * C), F(V * C), F(V), N, C, V, 0],
  patchForward: (R, C, D) => [F(R * C), F(C * D), F(D), F(D * C), F(C), F(R * C), F(R * D), F(R * C), R, C, D],
  patchBackward: (R, C, D) => [F(R * C), F(C * D), F(D * C), F(R * D), F(R * C), F(R * C), F(C * D), F(D), F(D * C), F(C), R, C, D, rand() < 0.5, rand() < 0.5],
  adamStep: (R, C) => [F(R * C), F(R * C), F(R * C), F(R * C), rand() < 0.5 ? I(2, R) : null, C, 1e-3, 0.9, 0.999, 1e-8, 0, rand() < 0.5, 1],
  sumSquares: (n) => [F(n)], sum: (n) => [F(n)], scale: (n) => [F(n), 0.5], axpy: (n) => [F(n), 2, F(n)], add: (n) => [F(n), F(n), F(n)],
  addRowVector: (R, C) => [F(R * C), F(C), R, C], sumRows: (R, C) => [F(R * C), R, C, F(C)],
  segmentWeightedSumForward: (S, R, C) => [F(S * R * C), F(S * R), O(S, R), F(S * C), S * R, C],
  segmentWeightedSumBackward: (S, R, C) => [F(S * R * C), F(S * R), O(S, R), F(S * C), F(S * R * C), F(S * R), S * R, C],
  segmentMaxForward: (S, R, C) => [F(S * R * C), U(S * R), O(S, R), F(S * C), new Int32Array(S * C), S * R, C],
  segmentMaxBackward: (S, R, C) => [I(S * C, S * R), F(S * C), F(S * R * C), S, C],
  segmentSoftmaxForward: (S, R) => [F(S * R), U(S * R), O(S, R), F(S * R), S * R],
  segmentSoftmaxBackward: (S, R) => [F(S * R), F(S * R), O(S, R), F(S * R), S * R],
  l2NormalizeForward: (R, C) => [F(R * C), F(R * C), F(R), R, C, 1e-12],
  l2NormalizeBackward: (R, C) => [F(R * C), F(R), F(R * C), F(R * C), R, C, 1e-12],
  infoNceForward: (N) => [F(2 * N * 2 * N), I(2 * N, 2 * N), F(2 * N * 2 * N), 2 * N, 0.5],
  infoNceBackward: (N) => [F(2 * N * 2 * N), I(2 * N, 2 * N), 0.5, F(2 * N * 2 * N), 2 * N, 0.5],
  attentionForward: (B, L, D) => [F(B * L * 2 * D), F(B * L * 2 * D), F(B * L * 2 * D), U(B * L), F(B * 2 * L * L), F(B * L * 2 * D), B, L, 2, D, rand() < 0.5],
  attentionBackward: (B, L, D) => [F(B * L * 2 * D), F(B * L * 2 * D), F(B * L * 2 * D), F(B * 2 * L * L), F(B * L * 2 * D), F(B * L * 2 * D), rand() < 0.5 ? F(B * L * 2 * D) : null, F(B * L * 2 * D), B, L, 2, D, rand() < 0.5],
  gruForward: (B, L, H) => [F(B * L * 3 * H), F(H * 3 * H), F(3 * H), I(B, L + 1), F(B * L * H), F(B * L * 4 * H), B, L, H],
  gruBackward: (B, L, H) => [F(H * 3 * H), F(B * L * H), F(B * L * 4 * H), I(B, L + 1), F(B * L * H), rand() < 0.5 ? F(B * L * 3 * H) : null, F(H * 3 * H), F(3 * H), B, L, H],
  dropoutForward: (n) => [F(n), F(n), 0.5, 7, n, n], dropoutBackward: (n) => [F(n), F(n), 0.5, 7, n, n],
  sumSquaresRows: (R, C) => [F(R * C), new Uint8Array(R).fill(1), C], scaleRows: (R, C) => [F(R * C), new Uint8Array(R).fill(1), C, 2],
  // MPI is never initialised here (no launcher): the collectives must refuse with a JS error, not crash.
  mpiAllreduceSum: (n) => [F(n)], mpiAllgatherv: (n) => [I(1, n)], mpiBarrier: () => [],
  mpiSumRows: (R, C) => [F(R * C), new Uint8Array(R).fill(1), C],
};
const nearValid = (name) => {
  const make = templates[name];
  if (!make) return null;
  const args = make(1 + Math.floor(rand() * 7), 1 + Math.floor(rand() * 9), 1 + Math.floor(rand() * 6));
  if (rand() < 0.8) args[Math.floor(rand() * args.length)] = value();
  return args;
};
// Settings that change the process for the rest of the run are kept to safe values; MPI's start and end are
// process-wide too (mpiAbort ends the process by design), and are tested under mpirun (test/distributed).
const skip = new Set(['setThreads', 'setGemmBackend', 'setDeterministic', 'resetPoolStats', 'mpiInit', 'mpiFinalize', 'mpiAbort']);
const names = Object.keys(k).filter((n) => typeof k[n] === 'function' && !skip.has(n)).sort();
let calls = 0, errors = 0;
const missing = names.filter((n) => !templates[n] && !['info', 'noop', 'poolStats'].includes(n));
if (missing.length > 0) { console.error('no valid-call template for ' + missing.join(', ')); process.exit(5); }
for (const name of names) {
  console.error('fuzzing ' + name); // the last line names the binding if the process dies
  for (let c = 0; c < cases; c++) {
    const args = (c % 2 === 1 && nearValid(name)) || Array.from({ length: Math.floor(rand() * 16) }, value);
    try {
      k[name](...args);
    } catch (err) {
      if (!(err instanceof KernelError)) { console.error('not a KernelError from ' + name + ': ' + err); process.exit(2); }
      errors++;
    }
    calls++;
  }
}
for (const bad of [-1, 1025, 2 ** 31, NaN, 1e9]) {
  try { k.setThreads(bad); console.error('setThreads(' + bad + ') was accepted'); process.exit(3); } catch (err) { if (!(err instanceof KernelError)) process.exit(4); }
}
console.log(JSON.stringify({ bindings: names.length, calls, errors }));
`;

describe('native bindings under random arguments', () => {
  it(`every binding answers ${CASES} random calls with a JS error or a result, never a crash`, () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, GRAFTREC_THREADS: '2' },
    });
    assert.equal(r.signal, null, `the fuzz child died (${r.signal}), seed ${SEED}: ${r.stderr.slice(-2000)}`);
    assert.equal(r.status, 0, `seed ${SEED}: ${r.stderr.slice(-2000)}`);
    const { bindings, calls, errors } = JSON.parse(r.stdout) as { bindings: number; calls: number; errors: number };
    assert.ok(bindings >= 30, `${bindings} bindings`);
    assert.equal(calls, bindings * CASES);
    assert.ok(errors > 0.5 * calls && errors < calls - 0.05 * calls, `${errors} of ${calls} calls refused`);
  });
});
