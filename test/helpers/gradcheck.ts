import assert from 'node:assert/strict';
import { Rng, Tensor, backward, noGrad, sumProduct } from '../../src/index.js';

/** Max |a - b| relative to max(|b|, floor): one number that is small when two vectors agree. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const err = relativeError(actual, expected);
  assert.ok(err <= tol, `${what}: relative error ${err.toExponential(2)} > ${tol}`);
}

export function randomTensor(rng: Rng, shape: number[], requiresGrad = true, scale = 1): Tensor {
  const t = Tensor.zeros(shape, requiresGrad);
  rng.fillUniform(t.data, -scale, scale);
  return t;
}

export interface GradCheckCase {
  /** The inputs whose gradients are checked (float tensors, requiresGrad). */
  inputs: Tensor[];
  /** Builds the op's output from the inputs with the native kernels. */
  kernel: (inputs: Tensor[]) => Tensor;
  /** The same function in float64 on plain arrays, returning the output values. */
  reference: (inputs: Float64Array[]) => ArrayLike<number>;
  /** Tolerances: forward agreement and gradient agreement (relative, see relativeError). */
  forwardTol?: number;
  gradTol?: number;
  /** Also differentiate the float32 kernel itself numerically (skip for kinked ops such as ReLU). */
  kernelFiniteDifference?: boolean;
}

/**
 * Checks an op three ways: (1) kernel forward vs float64 reference, (2) kernel backward (analytic, float32) vs
 * central finite differences of the float64 reference, (3) optionally vs finite differences of the float32
 * kernel itself with a coarse step. The scalar differentiated is sum(output * w) for random fixed weights w.
 */
export function gradCheck(rng: Rng, c: GradCheckCase): void {
  const forwardTol = c.forwardTol ?? 1e-4;
  const gradTol = c.gradTol ?? 2e-3;
  const out = c.kernel(c.inputs);
  const weights = new Float32Array(out.size);
  rng.fillUniform(weights, -1, 1);
  const asF64 = () => c.inputs.map((t) => Float64Array.from(t.data));
  assertClose(out.data, c.reference(asF64()), forwardTol, 'forward vs float64 reference');

  for (const t of c.inputs) t.grad = null;
  backward(sumProduct(out, weights));

  const refLoss = (xs: Float64Array[]) => {
    const y = c.reference(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * weights[i]!;
    return s;
  };
  c.inputs.forEach((t, which) => {
    assert.ok(t.grad, `input ${which} got no gradient`);
    const xs = asF64();
    const numeric = new Float64Array(t.size);
    const h = 1e-6;
    for (let i = 0; i < t.size; i++) {
      const keep = xs[which]![i]!;
      xs[which]![i] = keep + h;
      const up = refLoss(xs);
      xs[which]![i] = keep - h;
      const down = refLoss(xs);
      xs[which]![i] = keep;
      numeric[i] = (up - down) / (2 * h);
    }
    assertClose(t.grad!, numeric, gradTol, `gradient of input ${which} vs finite differences of the reference`);

    if (c.kernelFiniteDifference) {
      const numeric32 = new Float64Array(t.size);
      const step = 1e-2;
      const kernelLoss = () => {
        const y = noGrad(() => c.kernel(c.inputs)).data;
        let s = 0;
        for (let i = 0; i < y.length; i++) s += y[i]! * weights[i]!;
        return s;
      };
      for (let i = 0; i < t.size; i++) {
        const keep = t.data[i]!;
        t.data[i] = keep + step;
        const up = kernelLoss();
        t.data[i] = keep - step;
        const down = kernelLoss();
        t.data[i] = keep;
        numeric32[i] = (up - down) / (2 * step);
      }
      assertClose(t.grad!, numeric32, 3e-2, `gradient of input ${which} vs finite differences of the float32 kernel`);
    }
  });
}
