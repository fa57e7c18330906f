import { backend } from '../backend.js';
import { Parameter } from '../tensor.js';

/** The rows of p's gradient that can be non-zero: the touched rows of a row-sparse parameter, else null (all). */
function gradientRows(p: Parameter): Uint8Array | null {
  return p.touchedRows && !p.allRowsTouched ? p.touchedRows : null;
}

/**
 * Scales all gradients so their global L2 norm is at most maxNorm. Returns the norm before clipping, which the
 * trainer also uses to detect a non-finite gradient (the norm is then NaN or Infinity and nothing is scaled).
 * A row-sparse table's gradient is zero outside the rows the step touched, so only those are read and scaled
 * (a few thousand rows of a million-item table, not the whole table).
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  const k = backend();
  let sq = 0;
  for (const p of params) {
    if (!p.requiresGrad || !p.grad) continue;
    const rows = gradientRows(p);
    sq += rows ? k.sumSquaresRows(p.grad, rows, p.rowSize) : k.sumSquares(p.grad);
  }
  const norm = Math.sqrt(sq);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) {
      if (!p.requiresGrad || !p.grad) continue;
      const rows = gradientRows(p);
      if (rows) k.scaleRows(p.grad, rows, p.rowSize, s);
      else k.scale(p.grad, s);
    }
  }
  return norm;
}
