/**
 * A PeterRec model patch: a bottleneck applied position-wise (1x1 convolutions = per-position linear layers),
 *   patch(x) = x + Δ(x),   Δ(x) = Up(GELU(Down(x))),   Down: C → C/4, Up: C/4 → C.
 * At C = 64 a patch has 2,128 parameters against 12,352 for one dilated convolution. With `zeroInitUp` the
 * up-projection starts at zero, so a fresh patch is exactly the identity and grafting it changes nothing until
 * it is trained.
 */
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { BottleneckWeights, Parameter, Rng, Tensor, bottleneckPatch, embeddingBag } from '../tensor/index.js';

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

/**
 * The token-table patch of a text item encoder: a correction vector per hashed token, added to the frozen token
 * vectors inside each item's bag. Token t uses row t mod `rows` (a second, coarser hashing), so the patch stays
 * a small share of the network (the token table holds 2^17 rows) while every token of the new catalogue can move.
 * It starts at zero: grafting it changes nothing until it is trained.
 */
export class TokenTablePatch extends Module {
  readonly weight: Parameter;
  private cached: { ids: Int32Array; folded: Int32Array } | null = null;

  constructor(name: string, rows: number, dim: number) {
    super(name);
    this.weight = this.parameter('weight', [rows, dim], new Float32Array(rows * dim), { rowSparse: true });
  }

  /** Σ weights · rows of the folded token ids per bag: [bags, dim]. */
  bag(ids: Int32Array, weights: Float32Array, offsets: Int32Array): Tensor {
    if (this.cached?.ids !== ids) {
      const rows = this.weight.shape[0]!;
      this.cached = { ids, folded: ids.map((t) => t % rows) };
    }
    return embeddingBag(this.weight, this.cached.folded, weights, offsets);
  }
}

/**
 * Rows of the token-table patch: a sixteenth of the token table's buckets (8,192 × 64 at the default 2^17, 6% of a
 * text NextItNet's parameters).
 */
export function tokenPatchRows(buckets: number): number {
  return Math.max(1, Math.floor(buckets / 16));
}
