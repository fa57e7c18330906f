import { ShapeError } from '../../errors.js';
import { gradIfNeeded, noteDenseGradient, passGradient, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Shape, Tensor, shapeString, sizeOf } from '../tensor.js';

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** a + b for tensors of the same shape (residual connections). */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) {
    throw new ShapeError(`add: shapes differ: ${shapeString(a.shape)} vs ${shapeString(b.shape)}`);
  }
  const k = backend();
  const out = Tensor.empty(a.shape);
  k.add(a.data, b.data, out.data);
  return record(out, 'add', [a, b], (g) => {
    const donated = passGradient(a, g, true, k.axpy);
    passGradient(b, g, !donated && a !== b, k.axpy);
    // Every element got a gradient: a row-sparse parameter added here (an output bias plus a per-item offset)
    // must be updated in every row by the lazy optimizer.
    noteDenseGradient(a);
    noteDenseGradient(b);
  });
}

/** Same data viewed with another shape of the same size (no copy). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  if (sizeOf(shape) !== x.size) {
    throw new ShapeError(`reshape: cannot view ${shapeString(x.shape)} as ${shapeString(shape)}`);
  }
  const k = backend();
  const out = new Tensor(x.data, shape);
  return record(out, 'reshape', [x], (g) => {
    passGradient(x, g, true, k.axpy);
  });
}

/** sum(x * weights) as a scalar tensor: a weighted loss, and the probe that gradient checks differentiate. */
export function sumProduct(x: Tensor, weights: Float32Array): Tensor {
  if (weights.length !== x.size) {
    throw new ShapeError(`sumProduct: ${weights.length} weights for a tensor of ${x.size} elements`);
  }
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i]! * weights[i]!;
  const out = Tensor.from([s], [1]);
  const k = backend();
  return record(out, 'sumProduct', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.axpy(dx, g[0]!, weights);
  });
}

/** Σ weights[i] · xs[i] for tensors of one shape: the total of a training step's weighted loss terms. */
export function weightedSum(xs: readonly Tensor[], weights: readonly number[]): Tensor {
  if (xs.length === 0 || xs.length !== weights.length) {
    throw new ShapeError(`weightedSum: ${xs.length} tensors for ${weights.length} weights (need the same number, at least one)`);
  }
  const shape = xs[0]!.shape;
  for (const x of xs) {
    if (!sameShape(x.shape, shape)) throw new ShapeError(`weightedSum: shapes differ: ${shapeString(shape)} vs ${shapeString(x.shape)}`);
  }
  const k = backend();
  const out = Tensor.zeros(shape);
  xs.forEach((x, i) => k.axpy(out.data, weights[i]!, x.data));
  return record(out, 'weightedSum', xs, (g) => {
    xs.forEach((x, i) => {
      const dx = gradIfNeeded(x);
      if (dx) k.axpy(dx, weights[i]!, g);
    });
  });
}

/** s · x (e.g. an embedding scaled by √dim). */
export function scale(x: Tensor, s: number): Tensor {
  const k = backend();
  const out = Tensor.zeros(x.shape);
  k.axpy(out.data, s, x.data);
  return record(out, 'scale', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.axpy(dx, s, g);
  });
}
