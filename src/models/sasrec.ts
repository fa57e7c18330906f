/**
 * SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence, predicting the next item at
 * every position through the item embedding itself (tied output table, from the item encoder).
 *
 *   e = √dim · items(ids) + positions(distance from the most recent item)      (the paper's code scales by √dim)
 *   h = Dropout(e)
 *   each layer, pre-LN (the paper's code also normalises a sublayer's input — the attention's queries, the
 *   feed-forward network's input — and ends with a LayerNorm; here keys and values are normalised too):
 *     h = h + Dropout(Wo · Attention(LN1(h)))              causal, padding keys masked
 *     h = h + Dropout(W2 · Dropout(ReLU(W1 · LN2(h))))     point-wise feed-forward
 *   out = LN(h)
 *
 * Positions count back from the most recent item (0 = the last input), so a row's left padding never shifts
 * them: the paper pads every sequence to max-len on the left, which gives exactly these indices, and a batch
 * padded only to its own longest sequence gives them too. Unlike the paper's code there is no dropout on the
 * attention probabilities and the attention has an output projection (as in the PyTorch ports). Dropout is
 * active when a graph is recorded (training) and off under noGrad (evaluation, serving).
 */
import { ModelConfig } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import {
  Parameter, Rng, Tensor, add, attention, embedding, relu, scale, seededDropout,
} from '../tensor/index.js';
import { EncoderBlock, UserEncoder } from './encoder.js';
import { ItemEncoder, ItemTokens } from './item-encoder.js';

/** Room for this many dropout calls in one training step (a few per layer and forward pass). */
const CALLS_PER_STEP = 2 ** 20;

/**
 * Draws each dropout call's mask from (seed, call number): reproducible for a seed and any thread count. The
 * trainer restarts the numbering at each step (step × CALLS_PER_STEP), so a resumed run continues the sequence.
 */
export class DropoutCalls {
  private calls = 0;
  constructor(private readonly seed: number, private readonly rate: number) {}

  restartAt(step: number): void {
    this.calls = step * CALLS_PER_STEP;
  }

  apply(x: Tensor): Tensor {
    return seededDropout(x, this.rate, { seed: this.seed, step: this.calls++ });
  }
}

/** Per-row inputs the attention layers share: which keys are real. */
interface Sequences {
  keyValid: Uint8Array;
}

export class TransformerBlock extends EncoderBlock {
  readonly ln1: LayerNorm;
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  readonly ln2: LayerNorm;
  readonly ff1: Linear;
  readonly ff2: Linear;

  constructor(name: string, dim: number, readonly heads: number, eps: number, private readonly dropout: DropoutCalls,
    rng: Rng) {
    super(name);
    this.ln1 = this.child(new LayerNorm(this.childName('ln1'), dim, eps));
    this.query = this.child(new Linear(this.childName('attention.query'), dim, dim, rng));
    this.key = this.child(new Linear(this.childName('attention.key'), dim, dim, rng));
    this.value = this.child(new Linear(this.childName('attention.value'), dim, dim, rng));
    this.output = this.child(new Linear(this.childName('attention.output'), dim, dim, rng));
    this.ln2 = this.child(new LayerNorm(this.childName('ln2'), dim, eps));
    this.ff1 = this.child(new Linear(this.childName('ff1'), dim, dim, rng));
    this.ff2 = this.child(new Linear(this.childName('ff2'), dim, dim, rng));
  }

  forward(x: Tensor, seq: Sequences): Tensor {
    const p = this.patches;
    const a = this.ln1.forward(x);
    const context = attention(this.query.forward(a), this.key.forward(a), this.value.forward(a),
      { heads: this.heads, causal: true, keyValid: seq.keyValid });
    let s1 = this.dropout.apply(this.output.forward(context));
    if (p?.afterSublayer) s1 = p.afterSublayer(0, s1, a);
    const h = add(x, s1);
    const f = this.ln2.forward(h);
    let s2 = this.dropout.apply(this.ff2.forward(this.dropout.apply(relu(this.ff1.forward(f)))));
    if (p?.afterSublayer) s2 = p.afterSublayer(1, s2, f);
    return p?.residual ? p.residual(h, s2) : add(h, s2);
  }
}

export class SASRec extends UserEncoder {
  readonly backbone = 'sasrec';
  readonly sublayerNames = ['attention', 'feedforward'] as const;
  readonly items: ItemEncoder;
  /** Row d: the position d items before the most recent one. */
  readonly positions: Embedding;
  readonly blocks: TransformerBlock[];
  readonly finalNorm: LayerNorm;
  private readonly dropout: DropoutCalls;

  constructor(config: ModelConfig, rng: Rng, itemTokens: ItemTokens | null = null) {
    super(config);
    if (config.objective !== 'causal') throw new ModelError(`sasrec is a causal model; objective ${config.objective} needs nextitnet`);
    if (config.dim % config.heads !== 0) throw new ModelError(`sasrec: ${config.heads} heads do not divide dim ${config.dim}`);
    this.dropout = new DropoutCalls(rng.int(0, 2 ** 31 - 1), config.dropout);
    this.items = this.child(new ItemEncoder(config, rng, itemTokens));
    this.positions = this.child(new Embedding('positions', config.maxLen, config.dim, rng));
    this.blocks = Array.from({ length: config.layers }, (_, i) => this.child(new TransformerBlock(`block.${i}`,
      config.dim, config.heads, config.layerNormEps, this.dropout, rng)));
    this.finalNorm = this.child(new LayerNorm('final_norm', config.dim, config.layerNormEps));
  }

  /** The softmax is tied to the item encoder, without a bias (as in the paper). */
  get outputWeight(): Tensor {
    return this.items.table();
  }

  get outputBias(): null {
    return null;
  }

  hidden(ids: Int32Array, batch: number, length: number): Tensor {
    if (length > this.config.maxLen) {
      throw new ModelError(`sasrec: sequences of ${length} positions exceed the positional table (max-len ${this.config.maxLen})`);
    }
    const fromEnd = new Int32Array(batch * length);
    for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) fromEnd[b * length + t] = length - 1 - t;
    const seq: Sequences = { keyValid: Uint8Array.from(ids, (id) => (id !== 0 ? 1 : 0)) };
    const e = add(scale(this.items.forward(ids, [batch, length]), Math.sqrt(this.config.dim)),
      embedding(this.positions.weight, fromEnd, [batch, length]));
    let h = this.dropout.apply(e);
    for (const block of this.blocks) h = block.forward(h, seq);
    return this.finalNorm.forward(h);
  }

  override startTrainingStep(step: number): void {
    this.dropout.restartAt(step);
  }

  /** Everything: the item table is also the output table. */
  backboneParameters(): Parameter[] {
    return this.parameters();
  }

  /** Every LayerNorm, as adapter tuning for transformers trains them (Houlsby et al.). */
  patchedNormParameters(): Parameter[] {
    return [...this.blocks.flatMap((b) => [...b.ln1.parameters(), ...b.ln2.parameters()]), ...this.finalNorm.parameters()];
  }
}
