import { backend } from '../backend.js';
import { Parameter } from '../tensor.js';

/**
 * Scales all gradients so their global L2 norm is at most maxNorm. Returns the norm before clipping, which the
 * trainer also uses to detect a non-finite gradient (the norm is then NaN or Infinity and nothing is scaled).
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  const k = backend();
  let sq = 0;
  for (const p of params) if (p.requiresGrad && p.grad) sq += k.sumSquares(p.grad);
  const norm = Math.sqrt(sq);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) if (p.requiresGrad && p.grad) k.scale(p.grad, s);
  }
  return norm;
}
