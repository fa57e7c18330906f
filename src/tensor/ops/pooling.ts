/**
 * Pooling over segments of rows: x [N, C] is cut into consecutive segments by `offsets` [S + 1] (segment s owns
 * rows offsets[s] .. offsets[s+1]-1), e.g. all positions of one user's input windows. These are what turn hidden
 * states into one vector per user: a weighted sum (last position, mean, attention), a masked max, and the softmax
 * over a segment's valid rows that attention pooling needs. Padding rows have weight 0 / valid 0.
 */
import { ShapeError } from '../../errors.js';
import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

function checkRows(op: string, x: Tensor, n: number, what: string): void {
  if (x.shape.length !== 2 || x.shape[0] !== n) throw new ShapeError(`${op}: ${what} must be [${n}, C], got ${shapeString(x.shape)}`);
}

function checkVector(op: string, v: { length: number }, n: number, what: string): void {
  if (v.length !== n) throw new ShapeError(`${op}: ${what} has ${v.length} elements for ${n} rows`);
}

function segmentsOf(offsets: Int32Array): number {
  return Math.max(0, offsets.length - 1);
}

/** y[s] = Σ_{r in segment s} w[r] · x[r]: [S, C]. Gradients flow to x and to w (attention weights). */
export function segmentWeightedSum(x: Tensor, w: Tensor, offsets: Int32Array): Tensor {
  const N = x.shape[0] ?? 0;
  checkRows('segmentWeightedSum', x, N, 'x');
  checkVector('segmentWeightedSum', w.data, N, 'w');
  const C = x.shape[1]!;
  const S = segmentsOf(offsets);
  const k = backend();
  const out = Tensor.empty([S, C]);
  k.segmentWeightedSumForward(x.data, w.data, offsets, out.data, N, C);
  return record(out, 'segmentWeightedSum', [x, w], (g) => {
    k.segmentWeightedSumBackward(x.data, w.data, offsets, g, gradIfNeeded(x), gradIfNeeded(w), N, C);
  });
}

/** Per channel, the maximum over each segment's valid rows (0 for a segment without one): [S, C]. */
export function segmentMax(x: Tensor, valid: Uint8Array, offsets: Int32Array): Tensor {
  const N = x.shape[0] ?? 0;
  checkRows('segmentMax', x, N, 'x');
  checkVector('segmentMax', valid, N, 'valid');
  const C = x.shape[1]!;
  const S = segmentsOf(offsets);
  const k = backend();
  const out = Tensor.empty([S, C]);
  const argmax = new Int32Array(S * C);
  k.segmentMaxForward(x.data, valid, offsets, out.data, argmax, N, C);
  return record(out, 'segmentMax', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.segmentMaxBackward(argmax, g, dx, S, C);
  });
}

/** Softmax of scores z [N] (or [N, 1]) over each segment's valid rows; invalid rows get 0. */
export function segmentSoftmax(z: Tensor, valid: Uint8Array, offsets: Int32Array): Tensor {
  const N = z.size;
  checkVector('segmentSoftmax', valid, N, 'valid');
  const k = backend();
  const p = new Tensor(scratchFloats(N), [N]);
  k.segmentSoftmaxForward(z.data, valid, offsets, p.data, N);
  return record(p, 'segmentSoftmax', [z], (g) => {
    const dz = gradIfNeeded(z);
    if (dz) k.segmentSoftmaxBackward(p.data, g, offsets, dz, N);
  });
}
