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
import { ModelConfig, objectiveProblem } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Embedding, LayerNorm } from '../nn/layers.js';
import { Parameter, Rng, Tensor, add, embedding, scale } from '../tensor/index.js';
import { BatchShard, UserEncoder } from './encoder.js';
import { ItemEncoder, ItemSideInfo } from './item-encoder.js';
import { DropoutCalls, TransformerBlock, positionsFromEnd, realKeys } from './transformer.js';

export class SASRec extends UserEncoder {
  readonly backbone = 'sasrec';
  readonly sublayerNames = ['attention', 'feedforward'] as const;
  readonly items: ItemEncoder;
  /** Row d: the position d items before the most recent one. */
  readonly positions: Embedding;
  readonly blocks: TransformerBlock[];
  readonly finalNorm: LayerNorm;
  private readonly dropout: DropoutCalls;

  constructor(config: ModelConfig, rng: Rng, side: ItemSideInfo | null = null) {
    super(config);
    const problem = objectiveProblem('sasrec', config.objective);
    if (problem) throw new ModelError(problem);
    if (config.dim % config.heads !== 0) throw new ModelError(`sasrec: ${config.heads} heads do not divide dim ${config.dim}`);
    this.dropout = new DropoutCalls(rng.int(0, 2 ** 31 - 1), config.dropout);
    this.items = this.child(new ItemEncoder(config, rng, side));
    this.positions = this.child(new Embedding('positions', config.maxLen, config.dim, rng));
    const layer = { dim: config.dim, heads: config.heads, eps: config.layerNormEps, causal: true, activation: 'relu' } as const;
    this.blocks = Array.from({ length: config.layers }, (_, i) => this.child(new TransformerBlock(`block.${i}`, layer, this.dropout, rng)));
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
    const seq = realKeys(ids);
    const e = add(scale(this.items.forward(ids, [batch, length]), Math.sqrt(this.config.dim)),
      embedding(this.positions.weight, positionsFromEnd(batch, length), [batch, length]));
    let h = this.dropout.apply(e);
    for (const block of this.blocks) h = block.forward(h, seq);
    return this.finalNorm.forward(h);
  }

  override startTrainingStep(step: number, rows?: BatchShard): void {
    this.dropout.restartAt(step, rows);
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
