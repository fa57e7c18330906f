/**
 * The kernel interface. tensor/ is the only layer that calls it (and distributed/ its message-passing calls); a second backend (e.g. CUDA) implements the same
 * interface and nothing above tensor/ changes. Buffers are passed zero-copy; backward kernels ACCUMULATE (+=)
 * into the gradient buffers they are given, and skip any gradient passed as null (frozen inputs cost nothing).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KernelError } from '../errors.js';
import { packageRoot } from '../io/package.js';

type F32 = Float32Array;
type I32 = Int32Array;

export interface BackendInfo {
  gemmBackend: 'blas' | 'builtin';
  blasPath: string;
  builtinIsa: 'avx512' | 'avx2' | 'portable';
  threads: number;
  deterministic: boolean;
}

/** Thread-pool counters since the last reset: work that was really split across threads. */
export interface PoolStats {
  /** Jobs handed to the pool's workers (kernels below their thresholds run serially and do not count). */
  sharedJobs: number;
  /** Tasks of those jobs. */
  sharedTasks: number;
  /** Tasks a worker thread (not the calling thread) ran. */
  workerTasks: number;
}

export interface Kernels {
  info(): BackendInfo;
  setThreads(threads: number): void;
  setDeterministic(on: boolean): void;
  setGemmBackend(backend: 'blas' | 'builtin'): void;
  noop(x: F32): void;
  poolStats(): PoolStats;
  resetPoolStats(): void;

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: F32, lda: number,
    B: F32, ldb: number, beta: number, C: F32, ldc: number): void;

  /** starts[b]: first real position of sequence b; earlier positions are padding that reads as zeros. */
  conv1dForward(x: F32, weight: F32, bias: F32 | null, y: F32, B: number, L: number, Cin: number, Cout: number,
    kernelSize: number, dilation: number, causal: boolean, starts?: I32 | null): void;
  conv1dBackward(x: F32, weight: F32, dy: F32, dx: F32 | null, dweight: F32 | null, dbias: F32 | null, B: number,
    L: number, Cin: number, Cout: number, kernelSize: number, dilation: number, causal: boolean,
    starts?: I32 | null, dxOverwrite?: boolean): void;

  layerNormForward(x: F32, gamma: F32, beta: F32, y: F32, mean: F32, rstd: F32, rows: number, C: number,
    eps: number, relu: boolean, residual?: F32 | null): void;
  layerNormBackward(x: F32, gamma: F32, mean: F32, rstd: F32, y: F32 | null, dy: F32, dx: F32 | null,
    dgamma: F32 | null, dbeta: F32 | null, rows: number, C: number, dxOverwrite?: boolean,
    reluBeta?: F32 | null): void;

  reluForward(x: F32, y: F32): void;
  reluBackward(y: F32, dy: F32, dx: F32): void;
  geluForward(x: F32, y: F32): void;
  geluBackward(x: F32, dy: F32, dx: F32): void;

  embeddingForward(table: F32, ids: I32, out: F32, V: number, C: number): void;
  embeddingBackward(ids: I32, dout: F32, dtable: F32, V: number, C: number): void;
  embeddingBagForward(table: F32, ids: I32, weights: F32, offsets: I32, out: F32, V: number, C: number): void;
  embeddingBagBackward(ids: I32, weights: F32, offsets: I32, dout: F32, dtable: F32, V: number, C: number): void;
  markRows(ids: I32, mask: Uint8Array): void;
  collectRows(mask: Uint8Array): I32;

  /** With extraIndptr [N + 1] / extraCols / extraValues: a sparse extra logit per (row, column) in CSR form. */
  softmaxXentForward(h: F32, table: F32, bias: F32 | null, targets: I32, lse: F32, N: number, C: number, V: number,
    ignoreIndex: number, extraIndptr?: I32 | null, extraCols?: I32 | null, extraValues?: F32 | null): number;
  softmaxXentBackward(h: F32, table: F32, bias: F32 | null, targets: I32, lse: F32, gradScale: number,
    dh: F32 | null, dtable: F32 | null, dbias: F32 | null, N: number, C: number, V: number, ignoreIndex: number,
    extraIndptr?: I32 | null, extraCols?: I32 | null, extraValues?: F32 | null, dExtra?: F32 | null): void;

  sampledSoftmaxForward(h: F32, table: F32, bias: F32 | null, targets: I32, negatives: I32, logQ: F32 | null,
    probs: F32, N: number, C: number, V: number, ignoreIndex: number): number;
  sampledSoftmaxBackward(h: F32, table: F32, bias: F32 | null, targets: I32, negatives: I32, probs: F32,
    gradScale: number, dh: F32 | null, dtable: F32 | null, dbias: F32 | null, N: number, C: number, V: number,
    ignoreIndex: number): void;

  negativeBceForward(h: F32, table: F32, bias: F32 | null, targets: I32, negatives: I32, probs: F32, N: number,
    C: number, V: number, ignoreIndex: number): number;
  negativeBceBackward(h: F32, table: F32, bias: F32 | null, targets: I32, negatives: I32, probs: F32, gradScale: number,
    dh: F32 | null, dtable: F32 | null, dbias: F32 | null, N: number, C: number, V: number, ignoreIndex: number): void;

  patchForward(x: F32, downWeight: F32, downBias: F32 | null, upWeight: F32, upBias: F32 | null, base: F32 | null,
    hidden: F32, y: F32, rows: number, C: number, D: number): void;
  patchBackward(x: F32, downWeight: F32, upWeight: F32, hidden: F32, dy: F32, dx: F32 | null, dDownWeight: F32 | null,
    dDownBias: F32 | null, dUpWeight: F32 | null, dUpBias: F32 | null, rows: number, C: number, D: number,
    residual: boolean, dxOverwrite?: boolean): void;

  segmentWeightedSumForward(x: F32, w: F32, offsets: I32, y: F32, N: number, C: number): void;
  segmentWeightedSumBackward(x: F32, w: F32, offsets: I32, dy: F32, dx: F32 | null, dw: F32 | null, N: number,
    C: number): void;
  segmentMaxForward(x: F32, valid: Uint8Array, offsets: I32, y: F32, argmax: I32, N: number, C: number): void;
  segmentMaxBackward(argmax: I32, dy: F32, dx: F32, S: number, C: number): void;
  segmentSoftmaxForward(z: F32, valid: Uint8Array, offsets: I32, p: F32, N: number): void;
  segmentSoftmaxBackward(p: F32, dp: F32, offsets: I32, dz: F32, N: number): void;

  l2NormalizeForward(x: F32, y: F32, norms: F32, rows: number, C: number, eps: number): void;
  l2NormalizeBackward(y: F32, norms: F32, dy: F32, dx: F32, rows: number, C: number, eps: number): void;
  infoNceForward(sim: F32, positives: I32, probs: F32, N: number, temperature: number): number;
  infoNceBackward(probs: F32, positives: I32, gradScale: number, dsim: F32, N: number, temperature: number): void;

  /**
   * Multi-head attention over q, k, v [B, L, H*dh] (see native/attention.cc): keyValid [B*L] marks real keys;
   * probs [B*H*L*L] receives the attention probabilities, which the backward reads.
   */
  attentionForward(q: F32, k: F32, v: F32, keyValid: Uint8Array, probs: F32, out: F32, B: number, L: number,
    H: number, dh: number, causal: boolean): void;
  attentionBackward(q: F32, k: F32, v: F32, probs: F32, dout: F32, dq: F32 | null, dk: F32 | null, dv: F32 | null,
    B: number, L: number, H: number, dh: number, causal: boolean): void;

  /**
   * A GRU layer's recurrence (see native/gru.cc): gx [B*L*3H] input-side gates, whh [H*3H], bhh [3H], starts [B]
   * each sequence's first real position; out [B*L*H] receives h, saved [B*L*4H] what the backward reads.
   */
  gruForward(gx: F32, whh: F32, bhh: F32, starts: I32, out: F32, saved: F32, B: number, L: number, H: number): void;
  gruBackward(whh: F32, out: F32, saved: F32, starts: I32, dout: F32, dgx: F32 | null, dwhh: F32 | null,
    dbhh: F32 | null, B: number, L: number, H: number): void;

  /**
   * Inverted dropout whose mask is a hash of (seed, step, offset + element index): the same for any thread count,
   * and a tensor at `offset` in a larger one draws that part of its mask.
   */
  dropoutForward(x: F32, y: F32, rate: number, seed: number, step: number, offset: number): void;
  dropoutBackward(dy: F32, dx: F32, rate: number, seed: number, step: number, offset: number): void;

  adamStep(param: F32, grad: F32, m: F32, v: F32, rows: I32 | null, rowSize: number, lr: number, beta1: number,
    beta2: number, eps: number, weightDecay: number, decoupled: boolean, step: number): void;

  sumSquares(x: F32): number;
  sum(x: F32): number;
  scale(x: F32, s: number): void;
  /** Sum of squares over the rows of x (mask.length rows of rowSize) whose mask byte is set. */
  sumSquaresRows(x: F32, mask: Uint8Array, rowSize: number): number;
  /** x[r, :] *= s for the rows whose mask byte is set. */
  scaleRows(x: F32, mask: Uint8Array, rowSize: number, s: number): void;
  axpy(y: F32, a: number, x: F32): void;
  add(a: F32, b: F32, out: F32): void;
  addRowVector(y: F32, v: F32, rows: number, cols: number): void;
  sumRows(x: F32, rows: number, cols: number, out: F32): void;

  // Message passing (native/mpi.cc: Open MPI loaded at run time). Only distributed/ calls these.
  /** Loads libmpi (`library`, or the usual names when "") and initialises it; idempotent. */
  mpiInit(library: string): { rank: number; size: number; library: string };
  /** x = the element-wise sum of every rank's x, in place. */
  mpiAllreduceSum(x: F32 | Float64Array): void;
  /** Every rank's x concatenated in rank order, and each rank's length. */
  mpiAllgatherv<T extends I32 | F32>(x: T): { data: T; counts: I32 };
  /**
   * Sums row-sparse x over the ranks: each rank contributes its rows marked in mask; afterwards mask marks the
   * union and its rows hold the ranks' rows added in rank order (the same bits on every rank). Returns bytes sent.
   */
  mpiSumRows(x: F32, mask: Uint8Array, rowSize: number): number;
  mpiBarrier(): void;
  mpiFinalize(): void;
  /** Ends every rank of the job now with this exit code. */
  mpiAbort(code: number): never;
}

function loadAddon(): Kernels {
  const root = packageRoot();
  if (root === null) throw new KernelError('cannot locate the graftrec package root to load the native addon');
  const path = join(root, 'build', 'Release', 'graftrec.node');
  if (!existsSync(path)) {
    throw new KernelError(`native addon not built: ${path} is missing (run \`npm ci\` or \`npm run build\`)`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = createRequire(import.meta.url)(path) as Record<string, unknown>;
  } catch (err) {
    throw new KernelError(`failed to load native addon ${path}: ${(err as Error).message}`, { cause: err });
  }
  // Re-raise the addon's plain Errors as KernelError so callers can tell kernel misuse from other failures.
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(raw)) {
    if (typeof fn !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } catch (err) {
        throw new KernelError((err as Error).message, { cause: err });
      }
    };
  }
  return wrapped as unknown as Kernels;
}

let kernels: Kernels | null = null;

/** The active kernel backend (the native CPU addon), loaded on first use. */
export function backend(): Kernels {
  kernels ??= loadAddon();
  return kernels;
}
