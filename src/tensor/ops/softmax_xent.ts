import { ShapeError } from '../../errors.js';
import { gradIfNeeded, noteDenseGradient, noteRowGradient, record, rowGradIfNeeded } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

export interface CrossEntropyOptions {
  /** Rows whose target equals this id (padding) are left out of the loss and its mean. Default 0. */
  ignoreIndex?: number;
}

/**
 * A sparse term added to a full softmax's logits: row n adds values[j] to column cols[j] for j in
 * indptr[n] .. indptr[n+1] (CSR over the N rows). `values` [nnz] may carry a graph (a learned sparse table).
 */
export interface ExtraLogits {
  indptr: Int32Array;
  cols: Int32Array;
  values: Tensor;
}

/** The extra logits of the counted rows only (`kept`, null = all), and where each kept entry came from. */
function compactExtraLogits(extra: ExtraLogits, kept: Int32Array | null, N: number):
  { indptr: Int32Array; cols: Int32Array; values: Float32Array; from: Int32Array | null } {
  if (extra.indptr.length !== N + 1) throw new ShapeError(`softmaxCrossEntropy: extra-logit indptr has ${extra.indptr.length} entries for ${N} rows`);
  const nnz = extra.indptr[N]!;
  if (extra.cols.length !== nnz || extra.values.size !== nnz) {
    throw new ShapeError(`softmaxCrossEntropy: extra logits: ${extra.cols.length} columns and ${extra.values.size} values for ${nnz} entries`);
  }
  if (!kept) return { indptr: extra.indptr, cols: extra.cols, values: extra.values.data, from: null };
  const from: number[] = [];
  const indptr = [0];
  for (const n of kept) {
    for (let j = extra.indptr[n]!; j < extra.indptr[n + 1]!; j++) from.push(j);
    indptr.push(from.length);
  }
  const entries = Int32Array.from(from);
  return {
    indptr: Int32Array.from(indptr), cols: entries.map((j) => extra.cols[j]!),
    values: Float32Array.from(entries, (j) => extra.values.data[j]!), from: entries,
  };
}

function checkHeads(op: string, h: Tensor, table: Tensor, bias: Tensor | null, targets: Int32Array): [number, number, number] {
  if (h.shape.length !== 2) throw new ShapeError(`${op}: hidden states must be [N, C], got ${shapeString(h.shape)}`);
  if (table.shape.length !== 2 || table.shape[1] !== h.shape[1]) {
    throw new ShapeError(`${op}: table ${shapeString(table.shape)} does not match hidden ${shapeString(h.shape)}`);
  }
  const [N, C] = h.shape as [number, number];
  const V = table.shape[0]!;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== V)) {
    throw new ShapeError(`${op}: bias ${shapeString(bias.shape)} does not match ${V} table rows`);
  }
  if (targets.length !== N) throw new ShapeError(`${op}: ${targets.length} targets for ${N} rows`);
  return [N, C, V];
}

/**
 * The rows that carry a target, gathered once: the softmax kernels then run their GEMMs and log-sum-exps on these
 * alone (with padded sequences most rows carry none), and `scatter` adds the compact rows' gradient back into the
 * full one. When every row counts, the inputs are used as they are.
 */
interface TargetRows {
  /** Counted rows. */
  count: number;
  /** Their indices among the N rows; null when every row counts (nothing compacted). */
  kept: Int32Array | null;
  h: Float32Array;
  targets: Int32Array;
  /** dh of the compact rows [count, C] to add into (zeroed); null when h needs no gradient. */
  dh(full: Float32Array | null): Float32Array | null;
  /** Adds the compact rows' gradient into the full [N, C] gradient (a no-op when nothing was compacted). */
  scatter(compact: Float32Array | null, full: Float32Array | null): void;
}

function targetRows(h: Tensor, targets: Int32Array, ignoreIndex: number): TargetRows {
  const [N, C] = h.shape as [number, number];
  let count = 0;
  for (const t of targets) if (t !== ignoreIndex) count++;
  if (count === N) return { count, kept: null, h: h.data, targets, dh: (full) => full, scatter: () => {} };
  const rows = new Int32Array(count);
  for (let n = 0, i = 0; n < N; n++) if (targets[n] !== ignoreIndex) rows[i++] = n;
  const k = backend();
  const compactH = scratchFloats(count * C);
  if (count > 0) k.embeddingForward(h.data, rows, compactH, N, C);
  return {
    count, kept: rows, h: compactH, targets: targets.filter((t) => t !== ignoreIndex),
    dh: (full) => (full ? new Float32Array(count * C) : null),
    scatter: (compact, full) => {
      if (compact && full) k.embeddingBackward(rows, compact, full, N, C);
    },
  };
}

/**
 * Mean cross-entropy of a full softmax over every row of `table` (scores h·table[v] + bias[v]); the kernel
 * streams over the vocabulary in chunks and never materialises N x V logits.
 */
export function softmaxCrossEntropy(h: Tensor, table: Tensor, bias: Tensor | null, targets: Int32Array,
  options: CrossEntropyOptions & { extraLogits?: ExtraLogits } = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? 0;
  const [N, C, V] = checkHeads('softmaxCrossEntropy', h, table, bias, targets);
  const extraTensor = options.extraLogits?.values ?? null;
  const rows = targetRows(h, targets, ignoreIndex);
  const extra = options.extraLogits ? compactExtraLogits(options.extraLogits, rows.kept, N) : null;
  const count = rows.count;
  if (count === 0) return Tensor.from([0], [1]);
  const k = backend();
  const lse = new Float32Array(count);
  const total = k.softmaxXentForward(rows.h, table.data, bias?.data ?? null, rows.targets, lse, count, C, V, ignoreIndex,
    extra?.indptr ?? null, extra?.cols ?? null, extra?.values ?? null);
  const out = Tensor.from([total / count], [1]);
  const inputs = [h, table, ...(bias ? [bias] : []), ...(extraTensor ? [extraTensor] : [])];
  return record(out, 'softmaxCrossEntropy', inputs, (g) => {
    const dtable = gradIfNeeded(table);
    const dhFull = gradIfNeeded(h);
    const dh = rows.dh(dhFull);
    const dExtraFull = extraTensor ? gradIfNeeded(extraTensor) : null;
    const dExtra = dExtraFull && extra?.from ? new Float32Array(extra.from.length) : dExtraFull;
    k.softmaxXentBackward(rows.h, table.data, bias?.data ?? null, rows.targets, lse, g[0]! / count, dh,
      dtable, gradIfNeeded(bias), count, C, V, ignoreIndex, extra?.indptr ?? null, extra?.cols ?? null,
      extra?.values ?? null, dExtra);
    rows.scatter(dh, dhFull);
    if (dExtraFull && dExtra !== dExtraFull) extra!.from!.forEach((j, i) => (dExtraFull[j]! += dExtra![i]!));
    if (dtable) noteDenseGradient(table);
    if (bias?.requiresGrad) noteDenseGradient(bias);
    if (extraTensor?.requiresGrad) noteDenseGradient(extraTensor);
  });
}

export interface SampledSoftmaxOptions extends CrossEntropyOptions {
  /** log Q(item) for every item (its log sampling probability); null disables the correction. */
  logQ?: Float32Array | null;
}

/**
 * Mean sampled-softmax cross-entropy: each row scores its target against negatives shared by the whole batch,
 * with logQ correction and accidental hits removed. Gradients touch only the target and negative rows of the
 * table, which row-sparse parameters record for a lazy optimizer update.
 */
export function sampledSoftmaxCrossEntropy(h: Tensor, table: Tensor, bias: Tensor | null, targets: Int32Array,
  negatives: Int32Array, options: SampledSoftmaxOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? 0;
  const [, C, V] = checkHeads('sampledSoftmaxCrossEntropy', h, table, bias, targets);
  const rows = targetRows(h, targets, ignoreIndex);
  const count = rows.count;
  if (count === 0) return Tensor.from([0], [1]);
  const k = backend();
  const probs = scratchFloats(count * (negatives.length + 1));
  const logQ = options.logQ ?? null;
  const total = k.sampledSoftmaxForward(rows.h, table.data, bias?.data ?? null, rows.targets, negatives, logQ, probs,
    count, C, V, ignoreIndex);
  const out = Tensor.from([total / count], [1]);
  const inputs = bias ? [h, table, bias] : [h, table];
  return record(out, 'sampledSoftmaxCrossEntropy', inputs, (g) => {
    const dtable = rowGradIfNeeded(table);
    const dbias = rowGradIfNeeded(bias);
    const dhFull = gradIfNeeded(h);
    const dh = rows.dh(dhFull);
    k.sampledSoftmaxBackward(rows.h, table.data, bias?.data ?? null, rows.targets, negatives, probs, g[0]! / count,
      dh, dtable, dbias, count, C, V, ignoreIndex);
    rows.scatter(dh, dhFull);
    for (const [t, d] of [[table, dtable], [bias, dbias]] as const) {
      if (!t || !d) continue;
      noteRowGradient(t, negatives, k.markRows);
      noteRowGradient(t, rows.targets, k.markRows);
    }
  });
}

/**
 * Mean binary cross-entropy with one negative per row (SASRec's loss): -log σ(s_target) - log(1 - σ(s_negative)),
 * negatives[n] drawn for row n (a negative equal to the row's target is dropped). Rows whose target is
 * `ignoreIndex` are left out. Gradients touch only the target and negative rows of the table.
 */
export function negativeBce(h: Tensor, table: Tensor, bias: Tensor | null, targets: Int32Array, negatives: Int32Array,
  options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? 0;
  const [N, C, V] = checkHeads('negativeBce', h, table, bias, targets);
  if (negatives.length !== N) throw new ShapeError(`negativeBce: ${negatives.length} negatives for ${N} rows`);
  let count = 0;
  for (const t of targets) if (t !== ignoreIndex) count++;
  if (count === 0) return Tensor.from([0], [1]);
  const k = backend();
  const probs = new Float32Array(N * 2);
  const total = k.negativeBceForward(h.data, table.data, bias?.data ?? null, targets, negatives, probs, N, C, V, ignoreIndex);
  const out = Tensor.from([total / count], [1]);
  const inputs = bias ? [h, table, bias] : [h, table];
  return record(out, 'negativeBce', inputs, (g) => {
    const dtable = rowGradIfNeeded(table);
    const dbias = rowGradIfNeeded(bias);
    k.negativeBceBackward(h.data, table.data, bias?.data ?? null, targets, negatives, probs, g[0]! / count,
      gradIfNeeded(h), dtable, dbias, N, C, V, ignoreIndex);
    for (const [t, d] of [[table, dtable], [bias, dbias]] as const) {
      if (!t || !d) continue;
      noteRowGradient(t, targets, k.markRows);
      noteRowGradient(t, negatives, k.markRows);
    }
  });
}
