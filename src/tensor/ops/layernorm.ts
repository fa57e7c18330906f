import { ShapeError } from '../../errors.js';
import { gradIfNeeded, gradToWrite, passGradient, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

export interface LayerNormOptions {
  eps: number;
  /** Fuse the ReLU that follows the norm in every NextItNet block. */
  relu?: boolean;
  /** Fuse the residual add that closes a block: the output is act(norm(x)) + residual (same shape as x). */
  residual?: Tensor | null;
}

/** Layer normalisation over the last dimension: act(gamma * (x - mean) / sqrt(var + eps) + beta) [+ residual]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, options: LayerNormOptions): Tensor {
  const [rows, C] = x.rowsAndCols();
  for (const [name, p] of [['gamma', gamma], ['beta', beta]] as const) {
    if (p.shape.length !== 1 || p.shape[0] !== C) {
      throw new ShapeError(`layerNorm: ${name} ${shapeString(p.shape)} does not match input ${shapeString(x.shape)}`);
    }
  }
  const relu = options.relu ?? false;
  const residual = options.residual ?? null;
  if (residual && (residual.size !== x.size || residual.shape.length !== x.shape.length
    || residual.shape.some((d, i) => d !== x.shape[i]))) {
    throw new ShapeError(`layerNorm: residual ${shapeString(residual.shape)} does not match input ${shapeString(x.shape)}`);
  }
  const k = backend();
  const out = Tensor.empty(x.shape);
  if (rows === 0) return out;
  const mean = scratchFloats(rows);
  const rstd = scratchFloats(rows);
  k.layerNormForward(x.data, gamma.data, beta.data, out.data, mean, rstd, rows, C, options.eps, relu,
    residual?.data ?? null);
  const inputs = residual ? [x, gamma, beta, residual] : [x, gamma, beta];
  return record(out, (relu ? 'layerNormRelu' : 'layerNorm') + (residual ? 'Residual' : ''), inputs, (g) => {
    const dgamma = gradIfNeeded(gamma), dbeta = gradIfNeeded(beta);
    const dx = gradToWrite(x);
    // The ReLU mask: read from the output, or, when the output includes the residual, recomputed from x and beta.
    k.layerNormBackward(x.data, gamma.data, mean, rstd, relu && !residual ? out.data : null, g, dx.grad, dgamma, dbeta,
      rows, C, dx.overwrite, relu && residual ? beta.data : null);
    // g has been consumed by the kernel above, so it may be handed on.
    if (residual) passGradient(residual, g, true, k.axpy);
  });
}
