import { ShapeError } from '../../errors.js';
import { gradIfNeeded, gradToWrite, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, shapeString } from '../tensor.js';

export interface Conv1dOptions {
  dilation: number;
  /** Causal: output t sees inputs t, t-d, ..., t-(k-1)d. Centred: inputs symmetric around t (odd k). */
  causal: boolean;
  /**
   * Per sequence, its first real position (left padding before it). Padding reads as zeros and its outputs are the
   * bias alone, so real outputs do not depend on how much padding a sequence has. Omitted: no padding.
   */
  starts?: Int32Array | null;
}

/**
 * Dilated 1-D convolution over channels-last sequences.
 * x: [B, L, Cin], weight: [k, Cin, Cout], bias: [Cout] | null  ->  [B, L, Cout]
 */
export function dilatedConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv1dOptions): Tensor {
  if (x.shape.length !== 3) throw new ShapeError(`dilatedConv1d: x must be [B, L, C], got ${shapeString(x.shape)}`);
  if (weight.shape.length !== 3) {
    throw new ShapeError(`dilatedConv1d: weight must be [k, Cin, Cout], got ${shapeString(weight.shape)}`);
  }
  const [B, L, Cin] = x.shape as [number, number, number];
  const [kernelSize, wIn, Cout] = weight.shape as [number, number, number];
  if (wIn !== Cin) {
    throw new ShapeError(`dilatedConv1d: x has ${Cin} channels but weight ${shapeString(weight.shape)} expects ${wIn}`);
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== Cout)) {
    throw new ShapeError(`dilatedConv1d: bias ${shapeString(bias.shape)} does not match ${Cout} output channels`);
  }
  const { dilation, causal } = options;
  const starts = options.starts ?? null;
  if (starts && starts.length !== B) throw new ShapeError(`dilatedConv1d: ${starts.length} sequence starts for ${B} sequences`);
  const k = backend();
  const out = Tensor.empty([B, L, Cout]);
  if (out.size === 0) return out;
  k.conv1dForward(x.data, weight.data, bias?.data ?? null, out.data, B, L, Cin, Cout, kernelSize, dilation, causal, starts);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'dilatedConv1d', inputs, (g) => {
    const dweight = gradIfNeeded(weight), dbias = gradIfNeeded(bias);
    const dx = gradToWrite(x);
    k.conv1dBackward(x.data, weight.data, g, dx.grad, dweight, dbias, B, L, Cin, Cout, kernelSize, dilation, causal,
      starts, dx.overwrite);
  });
}
