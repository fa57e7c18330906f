import { ShapeError } from '../../errors.js';
import { gradIfNeeded, isGradEnabled, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Rng } from '../rng.js';
import { Tensor } from '../tensor.js';

/**
 * Inverted dropout: each element is zeroed with probability `rate` and the survivors scaled by 1 / (1 - rate), the
 * mask drawn from `rng` (seeded, so a run is reproducible). Identity at rate 0 and outside training (no graph).
 * Used on small tensors (a batch of user vectors), so the loop stays in TypeScript.
 */
export function dropout(x: Tensor, rate: number, rng: Rng): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  // Outside training nothing is drawn, so evaluation leaves the stream where training left it.
  if (rate === 0 || !isGradEnabled()) return x;
  return applyDropoutMask(x, dropoutMask(x.size, rate, rng));
}

/**
 * The mask dropout() would draw from `rng` for `size` elements (0, or 1 / (1 - rate) for a survivor), drawn
 * ahead of the forward pass: data-parallel training draws a whole batch's mask on every rank, so the ranks' streams
 * stay in step, and applies its shard's part (applyDropoutMask). Null at rate 0 (nothing drawn, as dropout()).
 */
export function dropoutMask(size: number, rate: number, rng: Rng): Float32Array | null {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return null;
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  return mask;
}

/**
 * x times mask[offset, offset + x.size): a mask from dropoutMask, drawn for a batch of which x holds some rows.
 * Identity for a null mask and outside training (no graph).
 */
export function applyDropoutMask(x: Tensor, mask: Float32Array | null, offset = 0): Tensor {
  if (mask === null || !isGradEnabled()) return x;
  if (offset < 0 || offset + x.size > mask.length) {
    throw new ShapeError(`dropout: a mask of ${mask.length} elements has no [${offset}, ${offset + x.size})`);
  }
  const m = mask.subarray(offset, offset + x.size);
  const out = new Tensor(Float32Array.from(x.data, (v, i) => v * m[i]!), x.shape);
  return record(out, 'dropout', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) for (let i = 0; i < dx.length; i++) dx[i]! += g[i]! * m[i]!;
  });
}

/** Which mask a seededDropout call draws: a hash of (seed, step, offset + element index), not a stateful stream. */
export interface DropoutStream {
  seed: number;
  /** Distinct per call (e.g. a counter the model advances): the same (seed, step) gives the same mask. */
  step: number;
  /**
   * Where this tensor's first element sits in a larger one whose mask it shares (0 when it is the whole): a rank
   * holding some rows of a batch draws the whole batch's mask for those rows.
   */
  offset?: number;
}

/**
 * Inverted dropout on the native kernel for activations of any size: the mask depends only on (seed, step,
 * element index), so it is the same for any thread count and backward recomputes it instead of storing it.
 * Identity at rate 0 and outside training (no graph).
 */
export function seededDropout(x: Tensor, rate: number, stream: DropoutStream): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0 || !isGradEnabled()) return x;
  const k = backend();
  const out = Tensor.empty(x.shape);
  const offset = stream.offset ?? 0;
  k.dropoutForward(x.data, out.data, rate, stream.seed, stream.step, offset);
  return record(out, 'seededDropout', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.dropoutBackward(g, dx, rate, stream.seed, stream.step, offset);
  });
}
