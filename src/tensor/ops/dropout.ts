import { ShapeError } from '../../errors.js';
import { gradIfNeeded, isGradEnabled, record } from '../autograd.js';
import { Rng } from '../rng.js';
import { Tensor } from '../tensor.js';

/**
 * Inverted dropout: each element is zeroed with probability `rate` and the survivors scaled by 1 / (1 - rate), the
 * mask drawn from `rng` (seeded, so a run is reproducible). Identity at rate 0 and outside training (no graph).
 * Used on small tensors (a batch of user vectors), so the loop stays in TypeScript.
 */
export function dropout(x: Tensor, rate: number, rng: Rng): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError(`dropout: rate must be in [0, 1), got ${rate}`);
  if (rate === 0 || !isGradEnabled()) return x;
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  const out = new Tensor(Float32Array.from(x.data, (v, i) => v * mask[i]!), x.shape);
  return record(out, 'dropout', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) for (let i = 0; i < dx.length; i++) dx[i]! += g[i]! * mask[i]!;
  });
}
