import { ShapeError } from '../../errors.js';
import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

/**
 * A GRU layer's recurrence over left-padded sequences (PyTorch gate order r, z, n): gx [B, L, 3H] are the
 * input-side gates x·W_ih + b_ih (one linear op over every position, made by the caller), whh [H, 3H] and
 * bhh [3H] the hidden side. Returns the hidden states [B, L, H]. Positions before starts[b] are padding: h = 0
 * there, the recurrence starts from the zero state at starts[b], and padding gets no gradient.
 * Memory: 4·B·L·H saved floats for the backward.
 */
export function gruRecurrence(gx: Tensor, whh: Tensor, bhh: Tensor, starts: Int32Array): Tensor {
  if (gx.shape.length !== 3 || gx.shape[2]! % 3 !== 0) {
    throw new ShapeError(`gruRecurrence: gx must be [B, L, 3H], got ${shapeString(gx.shape)}`);
  }
  const [B, L, G] = gx.shape as [number, number, number];
  const H = G / 3;
  if (whh.shape.length !== 2 || whh.shape[0] !== H || whh.shape[1] !== G) {
    throw new ShapeError(`gruRecurrence: whh must be [${H}, ${G}], got ${shapeString(whh.shape)}`);
  }
  if (bhh.shape.length !== 1 || bhh.shape[0] !== G) {
    throw new ShapeError(`gruRecurrence: bhh must be [${G}], got ${shapeString(bhh.shape)}`);
  }
  if (starts.length !== B) throw new ShapeError(`gruRecurrence: starts has ${starts.length} entries, expected B = ${B}`);
  const kn = backend();
  const out = Tensor.empty([B, L, H]);
  if (out.size === 0) return out;
  const saved = scratchFloats(B * L * 4 * H);
  kn.gruForward(gx.data, whh.data, bhh.data, starts, out.data, saved, B, L, H);
  return record(out, 'gru', [gx, whh, bhh], (g) => {
    kn.gruBackward(whh.data, out.data, saved, starts, g, gradIfNeeded(gx), gradIfNeeded(whh), gradIfNeeded(bhh), B, L, H);
  });
}
