/**
 * NextItNet (Yuan et al., WSDM 2019) as used by PeterRec: an item embedding, a stack of residual blocks of dilated
 * convolutions, and a softmax over the item table. The causal variant predicts the next item at every position;
 * the masked variant (GRec-style) uses centred convolutions and predicts masked items, with a dedicated mask token
 * (the original reused padding id 0).
 */
import { ModelConfig } from '../config/schema.js';
import { DilatedConv1d, INIT_STD, LayerNorm } from '../nn/layers.js';
import { Parameter, Rng, Tensor } from '../tensor/index.js';
import { EncoderBlock, UserEncoder, leftPaddingLengths } from './encoder.js';
import { ItemEncoder, ItemSideInfo } from './item-encoder.js';

/**
 * x → conv(d) → LayerNorm → ReLU → conv(2d) → LayerNorm → ReLU → + x
 */
export class ResidualBlock extends EncoderBlock {
  readonly conv1: DilatedConv1d;
  readonly ln1: LayerNorm;
  readonly conv2: DilatedConv1d;
  readonly ln2: LayerNorm;

  constructor(name: string, dim: number, kernelSize: number, dilation: number, causal: boolean, eps: number, rng: Rng) {
    super(name);
    this.conv1 = this.child(new DilatedConv1d(this.childName('conv1'), dim, dim, kernelSize, dilation, causal, rng));
    this.ln1 = this.child(new LayerNorm(this.childName('ln1'), dim, eps));
    this.conv2 = this.child(new DilatedConv1d(this.childName('conv2'), dim, dim, kernelSize, 2 * dilation, causal, rng));
    this.ln2 = this.child(new LayerNorm(this.childName('ln2'), dim, eps));
  }

  /** `starts`: each sequence's first real position; the convolutions read the padding before it as zeros. */
  forward(x: Tensor, starts: Int32Array | null = null): Tensor {
    const p = this.patches;
    let c1 = this.conv1.forward(x, starts);
    if (p?.afterSublayer) c1 = p.afterSublayer(0, c1, x);
    const h = this.ln1.forward(c1, { relu: true });
    let c2 = this.conv2.forward(h, starts);
    if (p?.afterSublayer) c2 = p.afterSublayer(1, c2, h);
    if (!p?.residual) return this.ln2.forward(c2, { relu: true, residual: x }); // x + F(x), the add fused
    return p.residual(x, this.ln2.forward(c2, { relu: true }));
  }
}

export class NextItNet extends UserEncoder {
  readonly backbone = 'nextitnet';
  readonly sublayerNames = ['conv1', 'conv2'] as const;
  readonly items: ItemEncoder;
  readonly blocks: ResidualBlock[];
  /**
   * With the id item encoder: an output (softmax) item table and bias separate from the input embedding, as in
   * the original code. With text the softmax is tied to the item encoder (no per-item parameter), bias-free.
   */
  private readonly outputTable: Parameter | null;
  private readonly outputTableBias: Parameter | null;

  constructor(config: ModelConfig, rng: Rng, side: ItemSideInfo | null = null) {
    super(config);
    const causal = config.objective === 'causal';
    this.items = this.child(new ItemEncoder(config, rng, side));
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(new ResidualBlock(`block.${i}`, config.dim,
      config.kernelSize, config.dilations[i % config.dilations.length]!, causal, config.layerNormEps, rng)));
    const rows = config.numItems + 1;
    const separate = config.itemEncoder === 'id';
    this.outputTable = separate ? this.parameter('output.weight', [rows, config.dim],
      rng.fillTruncatedNormal(new Float32Array(rows * config.dim), INIT_STD), { rowSparse: true }) : null;
    this.outputTableBias = separate ? this.parameter('output.bias', [rows], new Float32Array(rows), { rowSparse: true }) : null;
  }

  get outputWeight(): Tensor {
    return this.outputTable ?? this.items.table();
  }

  get outputBias(): Tensor | null {
    return this.outputTableBias;
  }

  /**
   * The convolutions read the padding as zeros (as if each sequence began at its first item), so the hidden
   * states of real positions are the same for any amount of padding and a batch need only be as long as its
   * longest sequence.
   */
  hidden(ids: Int32Array, batch: number, length: number): Tensor {
    const starts = leftPaddingLengths(ids, batch, length);
    let h = this.items.forward(ids, [batch, length]);
    for (const block of this.blocks) h = block.forward(h, starts);
    return h;
  }

  /** The input embedding and the blocks (the output table is only the pretraining softmax). */
  backboneParameters(): Parameter[] {
    return [...this.items.parameters(), ...this.blocks.flatMap((b) => b.parameters())];
  }

  /** Each block's second LayerNorm, as in PeterRec. */
  patchedNormParameters(): Parameter[] {
    return this.blocks.flatMap((b) => b.ln2.parameters());
  }
}
