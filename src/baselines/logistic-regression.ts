/**
 * Multinomial logistic regression on sparse rows, trained full-batch with L-BFGS. The objective is the mean
 * softmax cross-entropy over the training rows plus (l2 / 2)·‖W‖² (the per-class biases are not penalised):
 *
 *   loss(W, b) = 1/n Σ_i −log softmax(b + Σ_k x_ik W_k)[y_i] + l2/2 Σ W²
 *   ∂/∂W_kc    = 1/n Σ_i x_ik (p_ic − [y_i = c]) + l2·W_kc,   ∂/∂b_c = 1/n Σ_i (p_ic − [y_i = c])
 *
 * Weights are stored feature-major (W_k is the row of C class weights of feature k), so a sparse row reads
 * contiguous memory. The objective is strictly convex (for l2 > 0), so the fit does not depend on where it
 * starts; a good start only saves iterations.
 */
import { SparseRows } from './bag-of-items.js';
import { LbfgsOptions, minimizeLbfgs } from './lbfgs.js';

export interface LogisticRegression {
  classes: number;
  features: number;
  /** features × classes, then the classes biases: the optimiser's parameter vector. */
  parameters: Float64Array;
}

/** Writes softmax(b + Σ_k x_rk W_k) of row r into `p` (length classes). */
function rowProbabilities(x: SparseRows, r: number, parameters: Float64Array, classes: number, p: Float64Array): void {
  const biases = x.columns * classes;
  for (let c = 0; c < classes; c++) p[c] = parameters[biases + c]!;
  for (let j = x.indptr[r]!, end = x.indptr[r + 1]!; j < end; j++) {
    const v = x.values[j]!;
    const w = x.indices[j]! * classes;
    for (let c = 0; c < classes; c++) p[c] += v * parameters[w + c]!;
  }
  let max = -Infinity;
  for (let c = 0; c < classes; c++) if (p[c]! > max) max = p[c]!;
  let z = 0;
  for (let c = 0; c < classes; c++) z += p[c] = Math.exp(p[c]! - max);
  for (let c = 0; c < classes; c++) p[c] /= z;
}

/** Class probabilities of every row [rows × classes]. */
export function logisticProbabilities(m: LogisticRegression, x: SparseRows): Float64Array {
  if (x.columns !== m.features) throw new RangeError(`rows of ${x.columns} features for a model of ${m.features}`);
  const out = new Float64Array(x.rows * m.classes);
  for (let r = 0; r < x.rows; r++) rowProbabilities(x, r, m.parameters, m.classes, out.subarray(r * m.classes, (r + 1) * m.classes));
  return out;
}

/** The penalised mean cross-entropy at `parameters`, its gradient written into `grad`. */
export function logisticLoss(x: SparseRows, labels: Int32Array, classes: number, l2: number,
  parameters: Float64Array, grad: Float64Array): number {
  const biases = x.columns * classes;
  const residual = new Float64Array(classes); // p − onehot(y), over n
  let loss = 0;
  grad.fill(0);
  for (let r = 0; r < x.rows; r++) {
    rowProbabilities(x, r, parameters, classes, residual);
    const y = labels[r]!;
    loss -= Math.log(Math.max(residual[y]!, 1e-300));
    residual[y] -= 1;
    for (let c = 0; c < classes; c++) {
      residual[c] /= x.rows;
      grad[biases + c] += residual[c]!;
    }
    for (let j = x.indptr[r]!, end = x.indptr[r + 1]!; j < end; j++) {
      const v = x.values[j]!;
      const w = x.indices[j]! * classes;
      for (let c = 0; c < classes; c++) grad[w + c] += v * residual[c]!;
    }
  }
  let penalty = 0;
  for (let k = 0; k < biases; k++) {
    penalty += parameters[k]! * parameters[k]!;
    grad[k] += l2 * parameters[k]!;
  }
  return loss / x.rows + (l2 / 2) * penalty;
}

/**
 * Zero weights and the log class frequencies as biases: the exact optimum when the penalty drives every weight
 * to zero, so strongly penalised fits start where they end (a zero start spends most iterations on the biases).
 */
function priorStart(labels: Int32Array, features: number, classes: number): Float64Array {
  const parameters = new Float64Array((features + 1) * classes);
  const counts = new Float64Array(classes);
  for (const y of labels) counts[y]!++;
  for (let c = 0; c < classes; c++) parameters[features * classes + c] = Math.log(Math.max(counts[c]!, 0.5) / labels.length);
  return parameters;
}

/** Fits the model on labelled rows; `start` (a previous fit on the same features) warm-starts the optimiser. */
export function trainLogisticRegression(x: SparseRows, labels: Int32Array, classes: number, l2: number,
  start: LogisticRegression | null = null, options: LbfgsOptions = {}): LogisticRegression {
  if (labels.length !== x.rows) throw new RangeError(`${labels.length} labels for ${x.rows} rows`);
  for (const y of labels) if (!(y >= 0 && y < classes)) throw new RangeError(`label ${y} outside 0..${classes - 1}`);
  if (!(l2 >= 0)) throw new RangeError(`l2 must be ≥ 0, got ${l2}`);
  const size = (x.columns + 1) * classes;
  if (start && start.parameters.length !== size) throw new RangeError('warm start from a model of another shape');
  const { x: parameters } = minimizeLbfgs((p, g) => logisticLoss(x, labels, classes, l2, p, g),
    start ? start.parameters : priorStart(labels, x.columns, classes), options);
  return { classes, features: x.columns, parameters };
}
