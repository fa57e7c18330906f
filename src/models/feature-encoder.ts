/**
 * Items described by precomputed vectors (made elsewhere, e.g. by a language model over their text), read
 * through UniSRec's adaptor: K experts, each a parametric whitening (x − b_k)·W_k — a linear map with a bias,
 * which is the same family — and a softmax gate over the experts from the vector itself:
 *
 *   v(item) = LN( Σ_k g_k(x) · (x·W_k + c_k) ),   g(x) = softmax(x·G)
 *
 * The vectors are constants (the encoder never changes them); the experts, gate and LayerNorm are what trains, so
 * a new catalogue with vectors from the same model is scored by the same adaptor. Built from gradient-checked
 * ops: one GEMM for every expert, segmentSoftmax over each item's K gate logits, segmentWeightedSum to mix.
 */
import { ModelConfig } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Rng, Tensor, reshape, segmentSoftmax, segmentWeightedSum } from '../tensor/index.js';

/** One vector per item row 0..numItems (row 0, padding, all zero), `dim` floats each. */
export interface ItemFeatures {
  dim: number;
  vectors: Float32Array;
}

export class FeatureItemEncoder extends Module {
  readonly experts: Linear;
  readonly gate: Linear;
  readonly norm: LayerNorm;
  private readonly features: Tensor;
  private readonly expertCount: number;
  /** Each row's K gate logits form one segment. */
  private readonly segments: { valid: Uint8Array; offsets: Int32Array };

  constructor(name: string, config: ModelConfig, items: ItemFeatures, rng: Rng) {
    super(name);
    const rows = config.numItems + 1;
    if (items.dim !== config.featureDim) throw new ModelError(`item features: vectors of ${items.dim} floats, the model reads ${config.featureDim}`);
    if (items.vectors.length !== rows * items.dim) {
      throw new ModelError(`item features: ${items.vectors.length / items.dim} vectors, the model has ${config.numItems} items (+ padding)`);
    }
    const K = config.featureExperts;
    this.expertCount = K;
    this.experts = this.child(new Linear(this.childName('experts'), items.dim, K * config.dim, rng));
    this.gate = this.child(new Linear(this.childName('gate'), items.dim, K, rng, { bias: false }));
    this.norm = this.child(new LayerNorm(this.childName('norm'), config.dim, config.layerNormEps));
    this.features = new Tensor(items.vectors, [rows, items.dim]);
    this.segments = { valid: new Uint8Array(rows * K).fill(1), offsets: Int32Array.from({ length: rows + 1 }, (_, r) => r * K) };
  }

  /** Vectors of every item row [numItems + 1, dim]. */
  encodeAll(): Tensor {
    const rows = this.features.shape[0]!;
    const K = this.expertCount;
    const dim = this.norm.gamma.size;
    const perExpert = reshape(this.experts.forward(this.features), [rows * K, dim]);
    const gates = segmentSoftmax(reshape(this.gate.forward(this.features), [rows * K]), this.segments.valid, this.segments.offsets);
    return this.norm.forward(segmentWeightedSum(perExpert, gates, this.segments.offsets));
  }
}
