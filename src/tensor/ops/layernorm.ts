import { ShapeError } from '../../errors.js';
import { gradIfNeeded, gradToWrite, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

export interface LayerNormOptions {
  eps: number;
  /** Fuse the ReLU that follows the norm in every NextItNet block. */
  relu?: boolean;
}

/** Layer normalisation over the last dimension: act(gamma * (x - mean) / sqrt(var + eps) + beta). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, options: LayerNormOptions): Tensor {
  const [rows, C] = x.rowsAndCols();
  for (const [name, p] of [['gamma', gamma], ['beta', beta]] as const) {
    if (p.shape.length !== 1 || p.shape[0] !== C) {
      throw new ShapeError(`layerNorm: ${name} ${shapeString(p.shape)} does not match input ${shapeString(x.shape)}`);
    }
  }
  const relu = options.relu ?? false;
  const k = backend();
  const out = Tensor.empty(x.shape);
  if (rows === 0) return out;
  const mean = scratchFloats(rows);
  const rstd = scratchFloats(rows);
  k.layerNormForward(x.data, gamma.data, beta.data, out.data, mean, rstd, rows, C, options.eps, relu);
  return record(out, relu ? 'layerNormRelu' : 'layerNorm', [x, gamma, beta], (g) => {
    const dgamma = gradIfNeeded(gamma), dbeta = gradIfNeeded(beta);
    const dx = gradToWrite(x);
    k.layerNormBackward(x.data, gamma.data, mean, rstd, relu ? out.data : null, g, dx.grad, dgamma, dbeta, rows, C,
      dx.overwrite);
  });
}
