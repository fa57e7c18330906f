import { ShapeError } from '../../errors.js';
import { gradIfNeeded, noteDenseGradient, noteRowGradient, record, rowGradIfNeeded } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

export interface CrossEntropyOptions {
  /** Rows whose target equals this id (padding) are left out of the loss and its mean. Default 0. */
  ignoreIndex?: number;
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
  if (count === N) return { count, h: h.data, targets, dh: (full) => full, scatter: () => {} };
  const rows = new Int32Array(count);
  for (let n = 0, i = 0; n < N; n++) if (targets[n] !== ignoreIndex) rows[i++] = n;
  const k = backend();
  const compactH = scratchFloats(count * C);
  if (count > 0) k.embeddingForward(h.data, rows, compactH, N, C);
  return {
    count, h: compactH, targets: targets.filter((t) => t !== ignoreIndex),
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
  options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? 0;
  const [, C, V] = checkHeads('softmaxCrossEntropy', h, table, bias, targets);
  const rows = targetRows(h, targets, ignoreIndex);
  const count = rows.count;
  if (count === 0) return Tensor.from([0], [1]);
  const k = backend();
  const lse = new Float32Array(count);
  const total = k.softmaxXentForward(rows.h, table.data, bias?.data ?? null, rows.targets, lse, count, C, V, ignoreIndex);
  const out = Tensor.from([total / count], [1]);
  const inputs = bias ? [h, table, bias] : [h, table];
  return record(out, 'softmaxCrossEntropy', inputs, (g) => {
    const dtable = gradIfNeeded(table);
    const dhFull = gradIfNeeded(h);
    const dh = rows.dh(dhFull);
    k.softmaxXentBackward(rows.h, table.data, bias?.data ?? null, rows.targets, lse, g[0]! / count, dh,
      dtable, gradIfNeeded(bias), count, C, V, ignoreIndex);
    rows.scatter(dh, dhFull);
    if (dtable) noteDenseGradient(table);
    if (bias?.requiresGrad) noteDenseGradient(bias);
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
