import { ShapeError } from '../../errors.js';
import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, shapeString } from '../tensor.js';

function dims2(t: Tensor, what: string): [number, number] {
  if (t.shape.length !== 2) throw new ShapeError(`${what} must be 2-D, got ${shapeString(t.shape)}`);
  return [t.shape[0]!, t.shape[1]!];
}

/** op(a) @ op(b) for 2-D tensors, where op transposes when asked (no copy: the GEMM reads transposed). */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const ta = options.transA ?? false;
  const tb = options.transB ?? false;
  const [ar, ac] = dims2(a, 'matmul: a');
  const [br, bc] = dims2(b, 'matmul: b');
  const [M, K] = ta ? [ac, ar] : [ar, ac];
  const [K2, N] = tb ? [bc, br] : [br, bc];
  if (K !== K2) {
    throw new ShapeError(`matmul: inner dimensions differ: ${shapeString(a.shape)}${ta ? 'ᵀ' : ''} @ ${shapeString(b.shape)}${tb ? 'ᵀ' : ''}`);
  }
  const k = backend();
  const out = Tensor.empty([M, N]);
  k.gemm(ta, tb, M, N, K, 1, a.data, ac, b.data, bc, 0, out.data, N);
  return record(out, 'matmul', [a, b], (g) => {
    const da = gradIfNeeded(a);
    if (da) {
      // dop(a) = g @ op(b)ᵀ; stored a is op(a) or its transpose
      if (!ta) k.gemm(false, !tb, M, K, N, 1, g, N, b.data, bc, 1, da, K);
      else k.gemm(tb, true, K, M, N, 1, b.data, bc, g, N, 1, da, M);
    }
    const db = gradIfNeeded(b);
    if (db) {
      // dop(b) = op(a)ᵀ @ g
      if (!tb) k.gemm(!ta, false, K, N, M, 1, a.data, ac, g, N, 1, db, N);
      else k.gemm(true, ta, N, K, M, 1, g, N, a.data, ac, 1, db, K);
    }
  });
}

/** y = x @ weight + bias over the last dimension of x: a per-position linear layer (a 1x1 convolution). */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const [rows, inDim] = x.rowsAndCols();
  const [wIn, outDim] = dims2(weight, 'linear: weight');
  if (wIn !== inDim) {
    throw new ShapeError(`linear: input ${shapeString(x.shape)} does not match weight ${shapeString(weight.shape)}`);
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outDim)) {
    throw new ShapeError(`linear: bias ${shapeString(bias.shape)} does not match output size ${outDim}`);
  }
  const k = backend();
  const outShape = [...x.shape.slice(0, -1), outDim];
  const out = rows > 0 ? Tensor.empty(outShape) : Tensor.zeros(outShape);
  if (rows > 0) k.gemm(false, false, rows, outDim, inDim, 1, x.data, inDim, weight.data, outDim, 0, out.data, outDim);
  if (bias && rows > 0) k.addRowVector(out.data, bias.data, rows, outDim);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'linear', inputs, (g) => {
    if (rows === 0) return;
    const dx = gradIfNeeded(x);
    if (dx) k.gemm(false, true, rows, inDim, outDim, 1, g, outDim, weight.data, outDim, 1, dx, inDim);
    const dw = gradIfNeeded(weight);
    if (dw) k.gemm(true, false, inDim, outDim, rows, 1, x.data, inDim, g, outDim, 1, dw, outDim);
    const db = gradIfNeeded(bias);
    if (db) k.sumRows(g, rows, outDim, db);
  });
}
