/**
 * GRU4Rec (Hidasi et al., ICLR 2016), in the form RecBole and most later comparisons train it: whole sequences,
 * a softmax over every item at every position (not the paper's session-parallel mini-batches and ranking losses).
 *
 *   h = Dropout(items(ids))
 *   each layer:  h = GRU(h)           gates x·W_ih + b_ih for every position in one product, then the recurrence
 *   out = h                            scored against the item embedding itself (tied output table, from the item encoder, no bias)
 *
 * The recurrence starts from the zero state at each sequence's first real item, so left padding never changes
 * the states at real positions, and the state at a position depends only on the items up to it (causal). Dropout
 * is active when a graph is recorded (training) and off under noGrad (evaluation, serving).
 */
import { ModelConfig, objectiveProblem } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Parameter, Rng, Tensor, gruRecurrence, linear } from '../tensor/index.js';
import { BatchShard, EncoderBlock, UserEncoder, leftPaddingLengths } from './encoder.js';
import { ItemEncoder, ItemSideInfo } from './item-encoder.js';
import { DropoutCalls } from './transformer.js';

/**
 * One GRU layer (PyTorch's gate order r, z, n and parameter shapes, transposed to this library's [in, out]).
 * A block only so that fine-last1/2 can train the last layers: it has no sublayer outputs to patch.
 */
export class GruLayer extends EncoderBlock {
  readonly inputWeight: Parameter;
  readonly inputBias: Parameter;
  readonly hiddenWeight: Parameter;
  readonly hiddenBias: Parameter;

  constructor(name: string, dim: number, rng: Rng) {
    super(name);
    // PyTorch's initialisation: every weight and bias uniform in ±1/√hidden.
    const bound = 1 / Math.sqrt(dim);
    const uniform = (n: number) => {
      const a = new Float32Array(n);
      rng.fillUniform(a, -bound, bound);
      return a;
    };
    this.inputWeight = this.parameter('input.weight', [dim, 3 * dim], uniform(dim * 3 * dim));
    this.inputBias = this.parameter('input.bias', [3 * dim], uniform(3 * dim));
    this.hiddenWeight = this.parameter('hidden.weight', [dim, 3 * dim], uniform(dim * 3 * dim));
    this.hiddenBias = this.parameter('hidden.bias', [3 * dim], uniform(3 * dim));
  }

  forward(x: Tensor, starts: Int32Array): Tensor {
    return gruRecurrence(linear(x, this.inputWeight, this.inputBias), this.hiddenWeight, this.hiddenBias, starts);
  }
}

export class GRU4Rec extends UserEncoder {
  readonly backbone = 'gru4rec';
  /** Only patch parameter names read these, and graftPatches refuses this backbone. */
  readonly sublayerNames = ['input', 'recurrence'] as const;
  readonly items: ItemEncoder;
  readonly blocks: GruLayer[];
  private readonly dropout: DropoutCalls;

  constructor(config: ModelConfig, rng: Rng, side: ItemSideInfo | null = null) {
    super(config);
    const problem = objectiveProblem('gru4rec', config.objective);
    if (problem) throw new ModelError(problem);
    this.dropout = new DropoutCalls(rng.int(0, 2 ** 31 - 1), config.dropout);
    this.items = this.child(new ItemEncoder(config, rng, side));
    this.blocks = Array.from({ length: config.layers }, (_, i) => this.child(new GruLayer(`gru.${i}`, config.dim, rng)));
  }

  /** The softmax is tied to the item encoder, without a bias (as RecBole's GRU4Rec scores items). */
  get outputWeight(): Tensor {
    return this.items.table();
  }

  get outputBias(): null {
    return null;
  }

  hidden(ids: Int32Array, batch: number, length: number): Tensor {
    const starts = leftPaddingLengths(ids, batch, length);
    let h = this.dropout.apply(this.items.forward(ids, [batch, length]));
    for (const layer of this.blocks) h = layer.forward(h, starts);
    return h;
  }

  override startTrainingStep(step: number, rows?: BatchShard): void {
    this.dropout.restartAt(step, rows);
  }

  /** Everything: the item table is also the output table. */
  backboneParameters(): Parameter[] {
    return this.parameters();
  }

  /** No LayerNorms, and no patches to train beside them (graftPatches refuses this backbone). */
  patchedNormParameters(): Parameter[] {
    return [];
  }
}
