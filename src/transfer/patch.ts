/**
 * A PeterRec model patch: a bottleneck applied position-wise (1x1 convolutions = per-position linear layers),
 *   patch(x) = x + Δ(x),   Δ(x) = Up(GELU(Down(x))),   Down: C → C/4, Up: C/4 → C.
 * At C = 64 a patch has 2,128 parameters against 12,352 for one dilated convolution. With `zeroInitUp` the
 * up-projection starts at zero, so a fresh patch is exactly the identity and grafting it changes nothing until
 * it is trained.
 */
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { BottleneckWeights, Rng, Tensor, bottleneckPatch } from '../tensor/index.js';

export interface PatchOptions {
  /** Bottleneck channels (default C/4). */
  bottleneck?: number;
  zeroInitUp?: boolean;
}

export class ModelPatch extends Module {
  readonly down: Linear;
  readonly up: Linear;

  constructor(name: string, dim: number, rng: Rng, options: PatchOptions = {}) {
    super(name);
    const bottleneck = options.bottleneck ?? Math.max(1, Math.floor(dim / 4));
    this.down = this.child(new Linear(this.childName('down'), dim, bottleneck, rng));
    this.up = this.child(new Linear(this.childName('up'), bottleneck, dim, rng, { zeroInit: options.zeroInitUp ?? false }));
  }

  private get weights(): BottleneckWeights {
    return { downWeight: this.down.weight, downBias: this.down.bias, upWeight: this.up.weight, upBias: this.up.bias };
  }

  /** Δ(x) = Up(GELU(Down(x))): what the patch adds. */
  delta(x: Tensor): Tensor {
    return bottleneckPatch(x, this.weights, null);
  }

  /** base + Δ(x) in one fused op (the parallel and residual insertions). */
  addDelta(base: Tensor, x: Tensor): Tensor {
    return bottleneckPatch(x, this.weights, base);
  }

  forward(x: Tensor): Tensor {
    return bottleneckPatch(x, this.weights, x);
  }
}
