import { ShapeError } from '../../errors.js';
import { gradIfNeeded, gradToWrite, passGradient, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

/** The weights of a bottleneck patch: down [C, D] (+ bias [D]), up [D, C] (+ bias [C]). */
export interface BottleneckWeights {
  downWeight: Tensor;
  downBias: Tensor | null;
  upWeight: Tensor;
  upBias: Tensor | null;
}

function checkVector(what: string, t: Tensor | null, n: number): void {
  if (t && (t.shape.length !== 1 || t.shape[0] !== n)) {
    throw new ShapeError(`bottleneckPatch: ${what} ${shapeString(t.shape)} should be [${n}]`);
  }
}

/**
 * base + Up(GELU(Down(x))) over the last dimension, as one fused kernel pair: with base = x it is a PeterRec model
 * patch x + Δ(x); with another tensor it adds Δ(x) to that (the parallel and residual insertions); with null it is
 * Δ(x) alone. x and base have the same shape [..., C].
 */
export function bottleneckPatch(x: Tensor, w: BottleneckWeights, base: Tensor | null): Tensor {
  const [rows, C] = x.rowsAndCols();
  const { downWeight, downBias, upWeight, upBias } = w;
  if (downWeight.shape.length !== 2 || downWeight.shape[0] !== C) {
    throw new ShapeError(`bottleneckPatch: down weight ${shapeString(downWeight.shape)} does not take ${C} channels`);
  }
  const D = downWeight.shape[1]!;
  if (upWeight.shape.length !== 2 || upWeight.shape[0] !== D || upWeight.shape[1] !== C) {
    throw new ShapeError(`bottleneckPatch: up weight ${shapeString(upWeight.shape)} should be [${D}, ${C}]`);
  }
  checkVector('down bias', downBias, D);
  checkVector('up bias', upBias, C);
  if (base && (base.size !== x.size || base.shape.length !== x.shape.length || base.shape.some((d, i) => d !== x.shape[i]))) {
    throw new ShapeError(`bottleneckPatch: base ${shapeString(base.shape)} does not match x ${shapeString(x.shape)}`);
  }
  const k = backend();
  const out = Tensor.empty(x.shape);
  const hidden = scratchFloats(rows * D);
  if (rows === 0) return out;
  k.patchForward(x.data, downWeight.data, downBias?.data ?? null, upWeight.data, upBias?.data ?? null,
    base?.data ?? null, hidden, out.data, rows, C, D);
  const residual = base === x;
  const inputs = [x, downWeight, upWeight, ...[downBias, upBias].filter((t): t is Tensor => t !== null)];
  if (base && !residual) inputs.push(base);
  return record(out, 'bottleneckPatch', inputs, (g) => {
    const dDownWeight = gradIfNeeded(downWeight), dDownBias = gradIfNeeded(downBias);
    const dUpWeight = gradIfNeeded(upWeight), dUpBias = gradIfNeeded(upBias);
    const dx = gradToWrite(x);
    k.patchBackward(x.data, downWeight.data, upWeight.data, hidden, g, dx.grad, dDownWeight, dDownBias, dUpWeight,
      dUpBias, rows, C, D, residual, dx.overwrite);
    if (base && !residual) passGradient(base, g, true, k.axpy);
  });
}
