/**
 * Kernel benchmark: GEMM GFLOP/s per backend on the shapes NextItNet training produces, the cost of one N-API
 * call, and forward/backward time of one dilated residual block. Prints one JSON object per measurement.
 */
import {
  Parameter, Rng, Tensor, add, backend, backward, dilatedConv1d, layerNorm, noGrad, sumProduct,
} from '../src/index.js';
import { Emit, round, timeIt } from './timing.js';

interface GemmShape { m: number; n: number; k: number; transA: boolean; transB: boolean; use: string }

/** The reference shapes (no transposes), then the same products as training actually calls them. */
export const GEMM_SHAPES: GemmShape[] = [
  { m: 6400, n: 64, k: 192, transA: false, transB: false, use: 'conv forward: im2col[B*L, 3C] @ W[3C, C]' },
  { m: 192, n: 64, k: 6400, transA: false, transB: false, use: 'conv weight gradient shape' },
  { m: 6400, n: 100, k: 64, transA: false, transB: false, use: 'sampled-softmax logits shape' },
  { m: 4096, n: 256, k: 256, transA: false, transB: false, use: 'square-ish block' },
  { m: 1024, n: 1024, k: 1024, transA: false, transB: false, use: 'cube' },
  { m: 192, n: 64, k: 6400, transA: true, transB: false, use: 'conv weight gradient as called: im2colᵀ @ dY' },
  { m: 6400, n: 192, k: 64, transA: false, transB: true, use: 'conv input gradient as called: dY @ Wᵀ' },
  { m: 6400, n: 100, k: 64, transA: false, transB: true, use: 'sampled-softmax logits as called: H @ Enegᵀ' },
];

function benchGemm(emit: Emit, minSeconds: number): void {
  const k = backend();
  const initial = k.info().gemmBackend;
  const backends: ('blas' | 'builtin')[] = k.info().blasPath ? ['blas', 'builtin'] : ['builtin'];
  const rng = new Rng(1);
  for (const s of GEMM_SHAPES) {
    const a = rng.fillUniform(new Float32Array(s.m * s.k), -1, 1);
    const b = rng.fillUniform(new Float32Array(s.k * s.n), -1, 1);
    const c = new Float32Array(s.m * s.n);
    const lda = s.transA ? s.m : s.k;
    const ldb = s.transB ? s.k : s.n;
    for (const which of backends) {
      k.setGemmBackend(which);
      const t = timeIt(() => k.gemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n), { minSeconds });
      const flop = 2 * s.m * s.n * s.k;
      emit({
        kernel: 'gemm', backend: which, m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB,
        gflops: round(flop / (t.medianMs * 1e6)), gflopsBest: round(flop / (t.bestMs * 1e6)),
        ms: round(t.medianMs, 4), isa: which === 'builtin' ? k.info().builtinIsa : undefined, use: s.use,
      });
    }
  }
  k.setGemmBackend(initial);
}

function benchCallOverhead(emit: Emit): void {
  const k = backend();
  const x = new Float32Array(16);
  const calls = 1_000_000;
  const t = timeIt(() => {
    for (let i = 0; i < calls; i++) k.noop(x);
  }, { minSeconds: 0.5, minReps: 3 });
  emit({ kernel: 'napiCall', calls, usPerCall: round((t.medianMs * 1000) / calls, 4) });
}

/**
 * One NextItNet residual block: conv(d) → LN+ReLU → conv(2d) → LN+ReLU → + input, on the GEMM backend in effect
 * (run with GRAFTREC_BLAS=builtin for the builtin kernel: switching inside one process lets the other library's
 * threads disturb the timing).
 */
function benchResidualBlock(emit: Emit, minSeconds: number): void {
  const [B, L, C, dilation] = [128, 50, 64, 1];
  const rng = new Rng(2);
  const p = (name: string, shape: number[], std = 0.02) =>
    new Parameter(name, rng.fillTruncatedNormal(new Float32Array(shape.reduce((x, y) => x * y)), std), shape);
  const w1 = p('conv1.weight', [3, C, C]);
  const b1 = p('conv1.bias', [C], 0);
  const w2 = p('conv2.weight', [3, C, C]);
  const b2 = p('conv2.bias', [C], 0);
  const g1 = new Parameter('ln1.gamma', new Float32Array(C).fill(1), [C]);
  const be1 = new Parameter('ln1.beta', new Float32Array(C), [C]);
  const g2 = new Parameter('ln2.gamma', new Float32Array(C).fill(1), [C]);
  const be2 = new Parameter('ln2.beta', new Float32Array(C), [C]);
  const x = new Tensor(rng.fillNormal(new Float32Array(B * L * C), 1), [B, L, C], true);
  const weights = rng.fillUniform(new Float32Array(B * L * C), -1, 1);
  const block = () => {
    const h = layerNorm(dilatedConv1d(x, w1, b1, { dilation, causal: true }), g1, be1, { eps: 1e-8, relu: true });
    return add(layerNorm(dilatedConv1d(h, w2, b2, { dilation: 2 * dilation, causal: true }), g2, be2, { eps: 1e-8, relu: true }), x);
  };
  const all = [w1, b1, w2, b2, g1, be1, g2, be2];
  const measure = (label: string, trainable: Parameter[]) => {
    for (const q of all) q.requiresGrad = trainable.includes(q);
    const fwd = timeIt(() => noGrad(block), { minSeconds });
    const fwdBwd = timeIt(() => {
      backward(sumProduct(block(), weights));
      for (const q of all) q.grad = null;
      x.grad = null;
    }, { minSeconds });
    emit({
      kernel: 'residualBlock', backend: backend().info().gemmBackend, B, L, C, kernelSize: 3,
      dilations: [dilation, 2 * dilation], trainable: label,
      forwardMs: round(fwd.medianMs, 3), forwardBackwardMs: round(fwdBwd.medianMs, 3),
    });
  };
  measure('all', all);
  // PeterRec-style: convolutions frozen, only the second LayerNorm trains (input gradients still flow).
  measure('second layer norm only', [g2, be2]);
}


export function runKernelBench(emit: Emit, options: { minSeconds?: number } = {}): void {
  const minSeconds = options.minSeconds ?? 0.5;
  const info = backend().info();
  emit({ kernel: 'info', ...info });
  benchCallOverhead(emit);
  benchGemm(emit, minSeconds);
  benchResidualBlock(emit, minSeconds);
}
