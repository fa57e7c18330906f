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

function countTargets(targets: Int32Array, ignoreIndex: number): number {
  let n = 0;
  for (const t of targets) if (t !== ignoreIndex) n++;
  return n;
}

/**
 * Mean cross-entropy of a full softmax over every row of `table` (scores h·table[v] + bias[v]); the kernel
 * streams over the vocabulary in chunks and never materialises N x V logits.
 */
export function softmaxCrossEntropy(h: Tensor, table: Tensor, bias: Tensor | null, targets: Int32Array,
  options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? 0;
  const [N, C, V] = checkHeads('softmaxCrossEntropy', h, table, bias, targets);
  const count = countTargets(targets, ignoreIndex);
  const k = backend();
  const lse = new Float32Array(N);
  const total = N > 0 ? k.softmaxXentForward(h.data, table.data, bias?.data ?? null, targets, lse, N, C, V, ignoreIndex) : 0;
  const out = Tensor.from([count > 0 ? total / count : 0], [1]);
  if (count === 0) return out;
  const inputs = bias ? [h, table, bias] : [h, table];
  return record(out, 'softmaxCrossEntropy', inputs, (g) => {
    const dtable = gradIfNeeded(table);
    k.softmaxXentBackward(h.data, table.data, bias?.data ?? null, targets, lse, g[0]! / count, gradIfNeeded(h),
      dtable, gradIfNeeded(bias), N, C, V, ignoreIndex);
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
  const [N, C, V] = checkHeads('sampledSoftmaxCrossEntropy', h, table, bias, targets);
  const count = countTargets(targets, ignoreIndex);
  const k = backend();
  const probs = scratchFloats(N * (negatives.length + 1));
  const logQ = options.logQ ?? null;
  const total = N > 0
    ? k.sampledSoftmaxForward(h.data, table.data, bias?.data ?? null, targets, negatives, logQ, probs, N, C, V, ignoreIndex)
    : 0;
  const out = Tensor.from([count > 0 ? total / count : 0], [1]);
  if (count === 0) return out;
  const inputs = bias ? [h, table, bias] : [h, table];
  return record(out, 'sampledSoftmaxCrossEntropy', inputs, (g) => {
    const dtable = rowGradIfNeeded(table);
    const dbias = rowGradIfNeeded(bias);
    k.sampledSoftmaxBackward(h.data, table.data, bias?.data ?? null, targets, negatives, probs, g[0]! / count,
      gradIfNeeded(h), dtable, dbias, N, C, V, ignoreIndex);
    const counted = targets.filter((t) => t !== ignoreIndex);
    for (const [t, d] of [[table, dtable], [bias, dbias]] as const) {
      if (!t || !d) continue;
      noteRowGradient(t, negatives, k.markRows);
      noteRowGradient(t, counted, k.markRows);
    }
  });
}
