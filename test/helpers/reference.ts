/**
 * Float64 reference implementations of every kernel, written for clarity, not speed. Tests compare the native
 * float32 kernels against these and take finite differences of these (in float64 the differences are accurate).
 */
export type F64 = Float64Array;

export function matmulRef(a: F64, b: F64, M: number, N: number, K: number, transA: boolean, transB: boolean): F64 {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += (transA ? a[p * M + i]! : a[i * K + p]!) * (transB ? b[j * K + p]! : b[p * N + j]!);
      out[i * N + j] = s;
    }
  return out;
}

/** starts[b]: sequence b's first real position; padding before it reads as zeros and outputs the bias alone. */
export function conv1dRef(x: F64, w: F64, bias: F64 | null, B: number, L: number, Cin: number, Cout: number,
  k: number, dilation: number, causal: boolean, starts: ArrayLike<number> | null = null): F64 {
  const y = new Float64Array(B * L * Cout);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < L; t++)
      for (let o = 0; o < Cout; o++) {
        let s = bias ? bias[o]! : 0;
        const first = starts ? starts[b]! : 0;
        for (let j = 0; j < k; j++) {
          const src = t + (causal ? (j - (k - 1)) * dilation : (j - (k - 1) / 2) * dilation);
          if (t < first || src < first || src >= L) continue;
          for (let c = 0; c < Cin; c++) s += x[(b * L + src) * Cin + c]! * w[(j * Cin + c) * Cout + o]!;
        }
        y[(b * L + t) * Cout + o] = s;
      }
  return y;
}

export function layerNormRef(x: F64, gamma: F64, beta: F64, rows: number, C: number, eps: number, relu: boolean): F64 {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[r * C + c]!;
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) {
      const o = gamma[c]! * (x[r * C + c]! - mean) * rstd + beta[c]!;
      y[r * C + c] = relu ? Math.max(0, o) : o;
    }
  }
  return y;
}

export function geluRef(x: F64): F64 {
  return x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
}

export function reluRef(x: F64): F64 {
  return x.map((v) => Math.max(0, v));
}

export function embeddingRef(table: F64, ids: Int32Array, C: number): F64 {
  const out = new Float64Array(ids.length * C);
  ids.forEach((id, i) => out.set(table.subarray(id * C, id * C + C), i * C));
  return out;
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return m;
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

function dotRow(h: F64, n: number, table: F64, v: number, C: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += h[n * C + c]! * table[v * C + c]!;
  return s;
}

/** Mean full-softmax cross-entropy over rows whose target is not ignoreIndex. */
export function softmaxXentRef(h: F64, table: F64, bias: F64 | null, targets: Int32Array, N: number, C: number,
  V: number, ignoreIndex: number, extra?: { indptr: Int32Array; cols: Int32Array; values: F64 }): number {
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) continue;
    const logits = Array.from({ length: V }, (_, v) => dotRow(h, n, table, v, C) + (bias ? bias[v]! : 0));
    if (extra) for (let j = extra.indptr[n]!; j < extra.indptr[n + 1]!; j++) logits[extra.cols[j]!] += extra.values[j]!;
    total += logSumExp(logits) - logits[t]!;
    count++;
  }
  return count > 0 ? total / count : 0;
}

/** Mean sampled-softmax cross-entropy with logQ correction and accidental hits removed. */
export function sampledSoftmaxRef(h: F64, table: F64, bias: F64 | null, targets: Int32Array, negatives: Int32Array,
  logQ: F64 | null, N: number, C: number, ignoreIndex: number): number {
  const score = (n: number, v: number) => dotRow(h, n, table, v, C) + (bias ? bias[v]! : 0) - (logQ ? logQ[v]! : 0);
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) continue;
    const logits = [score(n, t), ...Array.from(negatives, (v) => (v === t ? -Infinity : score(n, v)))];
    total += logSumExp(logits) - logits[0]!;
    count++;
  }
  return count > 0 ? total / count : 0;
}

/** Mean of -log σ(s_target) - log(1 - σ(s_negative)) over counted rows; a negative equal to the target is dropped. */
export function negativeBceRef(h: F64, table: F64, bias: F64 | null, targets: Int32Array, negatives: Int32Array, N: number,
  C: number, ignoreIndex: number): number {
  const score = (n: number, v: number) => dotRow(h, n, table, v, C) + (bias ? bias[v]! : 0);
  const softplus = (x: number) => Math.log1p(Math.exp(x));
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t === ignoreIndex) continue;
    total += softplus(-score(n, t)) + (negatives[n] === t ? 0 : softplus(score(n, negatives[n]!)));
    count++;
  }
  return count > 0 ? total / count : 0;
}

/** base + gelu(x Wd + bd) Wu + bu over rows of x[rows, C] (a bottleneck model patch; base null = the delta alone). */
export function patchRef(x: F64, wd: F64, bd: F64 | null, wu: F64, bu: F64 | null, base: F64 | null, rows: number,
  C: number, D: number): F64 {
  const u = matmulRef(x, wd, rows, D, C, false, false);
  if (bd) u.forEach((v, i) => { u[i] = v + bd[i % D]!; });
  const y = matmulRef(geluRef(u), wu, rows, C, D, false, false);
  y.forEach((v, i) => { y[i] = v + (bu ? bu[i % C]! : 0) + (base ? base[i]! : 0); });
  return y;
}

/**
 * Multi-head attention in float64: q, k, v [B, L, H*dh]; key j is allowed for query i when valid[b*L + j] and
 * (not causal or j ≤ i); a query with no allowed key gets zeros.
 */
export function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, valid: Uint8Array, B: number, L: number,
  H: number, dh: number, causal: boolean, rows: readonly number[] | null = null): Float64Array {
  const W = H * dh;
  const out = new Float64Array(B * L * W);
  const scale = 1 / Math.sqrt(dh);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (const i of rows ?? Array.from({ length: L }, (_, t) => t)) {
    const at = (t: number) => (b * L + t) * W + h * dh;
    const allowed = (j: number) => valid[b * L + j] === 1 && (!causal || j <= i);
    const s = new Float64Array(L).fill(-Infinity);
    let max = -Infinity;
    for (let j = 0; j < L; j++) {
      if (!allowed(j)) continue;
      let dot = 0;
      for (let c = 0; c < dh; c++) dot += q[at(i) + c]! * k[at(j) + c]!;
      s[j] = dot * scale;
      max = Math.max(max, s[j]!);
    }
    if (max === -Infinity) continue;
    let sum = 0;
    for (let j = 0; j < L; j++) sum += allowed(j) ? Math.exp(s[j]! - max) : 0;
    for (let j = 0; j < L; j++) {
      if (!allowed(j)) continue;
      const p = Math.exp(s[j]! - max) / sum;
      for (let c = 0; c < dh; c++) out[at(i) + c] += p * v[at(j) + c]!;
    }
  }
  return out;
}

/**
 * A GRU layer's recurrence in float64 (PyTorch gate order r, z, n): gx [B, L, 3H] input-side gates, whh [H, 3H],
 * bhh [3H]; sequence b starts from h = 0 at starts[b], and h = 0 before it. Returns h [B, L, H].
 */
export function gruRef(gx: F64, whh: F64, bhh: F64, starts: ArrayLike<number>, B: number, L: number, H: number): F64 {
  const G = 3 * H;
  const out = new Float64Array(B * L * H);
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    for (let t = starts[b]!; t < L; t++) {
      const gh = Float64Array.from(bhh);
      for (let k = 0; k < H; k++) for (let j = 0; j < G; j++) gh[j] += h[k]! * whh[k * G + j]!;
      const x = gx.subarray((b * L + t) * G, (b * L + t + 1) * G);
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const r = sigmoid(x[j]! + gh[j]!);
        const z = sigmoid(x[H + j]! + gh[H + j]!);
        const n = Math.tanh(x[2 * H + j]! + r * gh[2 * H + j]!);
        next[j] = (1 - z) * n + z * h[j]!;
      }
      out.set(next, (b * L + t) * H);
      h = next;
    }
  }
  return out;
}
