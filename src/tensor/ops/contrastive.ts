/**
 * The two ops of contrastive (InfoNCE / NT-Xent) training beyond the similarity GEMM: L2 normalisation of rows
 * (projected user vectors onto the unit sphere, so z zᵀ holds cosine similarities) and the InfoNCE loss over a
 * similarity matrix, where each row's positive is another view of the same user and every other row is a negative.
 */
import { ShapeError } from '../../errors.js';
import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

/** Norms below this are clamped (as torch.nn.functional.normalize does), so an all-zero row stays finite. */
export const L2_NORMALIZE_EPS = 1e-12;

/** Each row divided by its L2 norm: x [N, C] → [N, C]. */
export function l2Normalize(x: Tensor, eps = L2_NORMALIZE_EPS): Tensor {
  if (x.shape.length !== 2) throw new ShapeError(`l2Normalize: x must be [N, C], got ${shapeString(x.shape)}`);
  const [N, C] = x.shape as [number, number];
  const k = backend();
  const out = Tensor.empty([N, C]);
  const norms = scratchFloats(N);
  k.l2NormalizeForward(x.data, out.data, norms, N, C, eps);
  return record(out, 'l2Normalize', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.l2NormalizeBackward(out.data, norms, g, dx, N, C, eps);
  });
}

/**
 * Mean InfoNCE loss over the rows of a similarity matrix sim [N, N]: row i scores every other row j by
 * sim[i, j] / temperature, and the loss is the cross-entropy of its positive `positives[i]` among them.
 */
export function infoNce(sim: Tensor, positives: Int32Array, temperature: number): Tensor {
  const N = sim.shape[0] ?? 0;
  if (sim.shape.length !== 2 || sim.shape[1] !== N) throw new ShapeError(`infoNce: sim must be square [N, N], got ${shapeString(sim.shape)}`);
  if (positives.length !== N) throw new ShapeError(`infoNce: ${positives.length} positives for ${N} rows`);
  const k = backend();
  const probs = scratchFloats(N * N);
  const total = k.infoNceForward(sim.data, positives, probs, N, temperature);
  const out = Tensor.from([total / N], [1]);
  return record(out, 'infoNce', [sim], (g) => {
    const dsim = gradIfNeeded(sim);
    if (dsim) k.infoNceBackward(probs, positives, g[0]! / N, dsim, N, temperature);
  });
}
