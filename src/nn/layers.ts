/** The building blocks of NextItNet and its patches. Initialisation follows the PeterRec code: trunc-normal(0.02). */
import {
  Parameter, Rng, Tensor, dilatedConv1d, embedding, layerNorm, linear, Shape,
} from '../tensor/index.js';
import { Module } from './module.js';

export const INIT_STD = 0.02;

function truncNormal(rng: Rng, n: number, std = INIT_STD): Float32Array {
  return rng.fillTruncatedNormal(new Float32Array(n), std);
}

/** An item table. Row-sparse: a batch touches few rows, and only those are updated. */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(name: string, rows: number, dim: number, rng: Rng) {
    super(name);
    this.weight = this.parameter('weight', [rows, dim], truncNormal(rng, rows * dim), { rowSparse: true });
  }

  forward(ids: Int32Array, shape: Shape): Tensor {
    return embedding(this.weight, ids, shape);
  }
}

/** Dilated 1-D convolution over [B, L, C]; weights [k, Cin, Cout]. */
export class DilatedConv1d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(name: string, inChannels: number, outChannels: number, readonly kernelSize: number,
    readonly dilation: number, readonly causal: boolean, rng: Rng) {
    super(name);
    this.weight = this.parameter('weight', [kernelSize, inChannels, outChannels], truncNormal(rng, kernelSize * inChannels * outChannels));
    this.bias = this.parameter('bias', [outChannels]);
  }

  /** `starts`: each sequence's first real position (see dilatedConv1d); omitted when nothing is padding. */
  forward(x: Tensor, starts: Int32Array | null = null): Tensor {
    return dilatedConv1d(x, this.weight, this.bias, { dilation: this.dilation, causal: this.causal, starts });
  }
}

export class LayerNorm extends Module {
  readonly gamma: Parameter;
  readonly beta: Parameter;

  /** `gain`: the initial gamma (1, unless the output must start at another scale). */
  constructor(name: string, dim: number, readonly eps: number, gain = 1) {
    super(name);
    this.gamma = this.parameter('gamma', [dim], new Float32Array(dim).fill(gain));
    this.beta = this.parameter('beta', [dim]);
  }

  forward(x: Tensor, options: { relu?: boolean; residual?: Tensor | null } = {}): Tensor {
    return layerNorm(x, this.gamma, this.beta, { eps: this.eps, relu: options.relu ?? false, residual: options.residual ?? null });
  }
}

/** A per-position linear layer (a 1x1 convolution) over the last dimension. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(name: string, inDim: number, outDim: number, rng: Rng, options: { bias?: boolean; zeroInit?: boolean } = {}) {
    super(name);
    const w = options.zeroInit ? new Float32Array(inDim * outDim) : truncNormal(rng, inDim * outDim);
    this.weight = this.parameter('weight', [inDim, outDim], w);
    this.bias = options.bias ?? true ? this.parameter('bias', [outDim]) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
