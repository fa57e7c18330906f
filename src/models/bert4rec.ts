/**
 * BERT4Rec (Sun et al., CIKM 2019): bidirectional self-attention over the item sequence, trained on the cloze
 * task — random items are replaced by a mask token and predicted from both sides.
 *
 *   e = items(ids) + positions(distance from the most recent input)
 *   h = Dropout(e)
 *   each layer (pre-LN, see transformer.ts):
 *     h = h + Dropout(Wo · Attention(LN1(h)))              bidirectional, padding keys masked
 *     h = h + Dropout(W2 · Dropout(GELU(W1 · LN2(h))))     point-wise feed-forward with GELU
 *   out = LN_out(GELU(Wp · LN(h) + bp))                     the paper's output projection (as in its code)
 *   score(v) = out · items[v] + b[v]                        tied to the item encoder, with a per-item bias (id items only)
 *
 * The next item is predicted by appending the mask token to the history and reading its position (see
 * UserEncoder.userVectors), exactly the task the network was trained on. The mask token has an input row but no
 * output row: the softmax and every ranking score the items 0..numItems only (row 0, padding, never a target).
 *
 * Deviations from the paper, for one transformer layer shared with SASRec: layers are pre-LN (normalise each
 * sublayer's input, one LayerNorm at the end) rather than post-LN; there is no LayerNorm on the embedding sum and
 * no dropout on the attention probabilities. Positions count back from the most recent input, so left padding
 * never shifts them (the paper pads every sequence to max-len, which gives the same indices).
 */
import { ModelConfig, objectiveProblem } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Parameter, Rng, Tensor, add, embedding, gelu } from '../tensor/index.js';
import { BatchShard, UserEncoder } from './encoder.js';
import { ItemEncoder, ItemSideInfo } from './item-encoder.js';
import { DropoutCalls, TransformerBlock, positionsFromEnd, realKeys } from './transformer.js';

export class BERT4Rec extends UserEncoder {
  readonly backbone = 'bert4rec';
  readonly sublayerNames = ['attention', 'feedforward'] as const;
  /** Padding, items and the mask token (its last row). */
  readonly items: ItemEncoder;
  /** Row d: the position d inputs before the most recent one. */
  readonly positions: Embedding;
  readonly blocks: TransformerBlock[];
  readonly finalNorm: LayerNorm;
  readonly projection: Linear;
  readonly projectionNorm: LayerNorm;
  /** Per item: none with text items, which must score items never trained. */
  readonly outputBias: Parameter | null;
  private readonly dropout: DropoutCalls;

  constructor(config: ModelConfig, rng: Rng, side: ItemSideInfo | null = null) {
    super(config);
    const problem = objectiveProblem('bert4rec', config.objective);
    if (problem) throw new ModelError(problem);
    if (config.dim % config.heads !== 0) throw new ModelError(`bert4rec: ${config.heads} heads do not divide dim ${config.dim}`);
    this.dropout = new DropoutCalls(rng.int(0, 2 ** 31 - 1), config.dropout);
    this.items = this.child(new ItemEncoder(config, rng, side));
    this.positions = this.child(new Embedding('positions', config.maxLen, config.dim, rng));
    const layer = { dim: config.dim, heads: config.heads, eps: config.layerNormEps, causal: false, activation: 'gelu' } as const;
    this.blocks = Array.from({ length: config.layers }, (_, i) => this.child(new TransformerBlock(`block.${i}`, layer, this.dropout, rng)));
    this.finalNorm = this.child(new LayerNorm('final_norm', config.dim, config.layerNormEps));
    this.projection = this.child(new Linear('output.projection', config.dim, config.dim, rng));
    this.projectionNorm = this.child(new LayerNorm('output.norm', config.dim, config.layerNormEps));
    this.outputBias = config.itemEncoder === 'id'
      ? this.parameter('output.bias', [config.numItems + 1], new Float32Array(config.numItems + 1), { rowSparse: true }) : null;
  }

  /** The item vectors without the mask-token row: what the softmax scores. */
  get outputWeight(): Tensor {
    return this.items.table();
  }

  hidden(ids: Int32Array, batch: number, length: number): Tensor {
    if (length > this.config.maxLen) {
      throw new ModelError(`bert4rec: sequences of ${length} positions exceed the positional table (max-len ${this.config.maxLen})`);
    }
    const seq = realKeys(ids);
    const e = add(this.items.forward(ids, [batch, length]), embedding(this.positions.weight, positionsFromEnd(batch, length), [batch, length]));
    let h = this.dropout.apply(e);
    for (const block of this.blocks) h = block.forward(h, seq);
    return this.projectionNorm.forward(gelu(this.projection.forward(this.finalNorm.forward(h))));
  }

  override startTrainingStep(step: number, rows?: BatchShard): void {
    this.dropout.restartAt(step, rows);
  }

  /** Everything: the item table is also the output table, and the output projection reads every user vector. */
  backboneParameters(): Parameter[] {
    return this.parameters();
  }

  /** Every LayerNorm, as adapter tuning for transformers trains them (Houlsby et al.). */
  patchedNormParameters(): Parameter[] {
    return [...this.blocks.flatMap((b) => [...b.ln1.parameters(), ...b.ln2.parameters()]), ...this.finalNorm.parameters(),
      ...this.projectionNorm.parameters()];
  }
}
