import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor } from '../tensor.js';

export function relu(x: Tensor): Tensor {
  const k = backend();
  const out = Tensor.empty(x.shape);
  k.reluForward(x.data, out.data);
  return record(out, 'relu', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.reluBackward(out.data, g, dx);
  });
}

/** GELU, tanh approximation (the form used by BERT and by PeterRec's patches). */
export function gelu(x: Tensor): Tensor {
  const k = backend();
  const out = Tensor.empty(x.shape);
  k.geluForward(x.data, out.data);
  return record(out, 'gelu', [x], (g) => {
    const dx = gradIfNeeded(x);
    if (dx) k.geluBackward(x.data, g, dx);
  });
}
