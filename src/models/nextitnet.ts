/**
 * NextItNet (Yuan et al., WSDM 2019) as used by PeterRec: an item embedding, a stack of residual blocks of dilated
 * convolutions, and a softmax over the item table. The causal variant predicts the next item at every position;
 * the masked variant (GRec-style) uses centred convolutions and predicts masked items, with a dedicated mask token
 * (the original reused padding id 0).
 */
import { ModelConfig } from '../config/schema.js';
import { DilatedConv1d, Embedding, INIT_STD, LayerNorm } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { predictionInputs } from '../data/batches.js';
import { Parameter, Rng, Tensor, backend, reshape } from '../tensor/index.js';
import { LAST_POSITION, UserReading, encodeInBatches, poolUsers, userInputs } from './user-vectors.js';

/**
 * Where transfer learning may graft extra computation into a block (transfer/ builds these from model patches;
 * the backbone only calls them). Each hook returns the tensor that continues the block.
 */
export interface BlockPatchHooks {
  /** Given a convolution's output and its input, returns what goes on into the LayerNorm. */
  afterConv1?(convOutput: Tensor, convInput: Tensor): Tensor;
  afterConv2?(convOutput: Tensor, convInput: Tensor): Tensor;
  /** Given the block input x and the residual branch F(x), returns the block output (default x + F(x)). */
  residual?(x: Tensor, branch: Tensor): Tensor;
}

/**
 * x → conv(d) → LayerNorm → ReLU → conv(2d) → LayerNorm → ReLU → + x
 */
export class ResidualBlock extends Module {
  readonly conv1: DilatedConv1d;
  readonly ln1: LayerNorm;
  readonly conv2: DilatedConv1d;
  readonly ln2: LayerNorm;
  /** Model-patch hooks grafted by transfer learning; null for the plain backbone. */
  patches: BlockPatchHooks | null = null;

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
    if (p?.afterConv1) c1 = p.afterConv1(c1, x);
    const h = this.ln1.forward(c1, { relu: true });
    let c2 = this.conv2.forward(h, starts);
    if (p?.afterConv2) c2 = p.afterConv2(c2, h);
    if (!p?.residual) return this.ln2.forward(c2, { relu: true, residual: x }); // x + F(x), the add fused
    return p.residual(x, this.ln2.forward(c2, { relu: true }));
  }
}

export class NextItNet extends Module {
  readonly config: ModelConfig;
  readonly items: Embedding;
  readonly blocks: ResidualBlock[];
  /** Output (softmax) item table and bias: separate from the input embedding, as in the original code. */
  readonly outputWeight: Parameter;
  readonly outputBias: Parameter;

  constructor(config: ModelConfig, rng: Rng) {
    super('');
    this.config = config;
    const causal = config.objective === 'causal';
    this.items = this.child(new Embedding('items', inputRows(config), config.dim, rng));
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(new ResidualBlock(`block.${i}`, config.dim,
      config.kernelSize, config.dilations[i % config.dilations.length]!, causal, config.layerNormEps, rng)));
    const rows = config.numItems + 1;
    this.outputWeight = this.parameter('output.weight', [rows, config.dim],
      rng.fillTruncatedNormal(new Float32Array(rows * config.dim), INIT_STD), { rowSparse: true });
    this.outputBias = this.parameter('output.bias', [rows], new Float32Array(rows), { rowSparse: true });
  }

  /** Id of the mask token (masked objective only). */
  get maskToken(): number {
    return this.config.numItems + 1;
  }

  /**
   * Hidden states [B, L, C] for item ids [B, L], left-padded with 0. The convolutions read the padding as zeros
   * (as if each sequence began at its first item), so the hidden states of real positions are the same for any
   * amount of padding and a batch need only be as long as its longest sequence; padding rows hold values that
   * nothing should read.
   */
  hidden(ids: Int32Array, batch: number, length: number): Tensor {
    const starts = leftPaddingLengths(ids, batch, length);
    let h = this.items.forward(ids, [batch, length]);
    for (const block of this.blocks) h = block.forward(h, starts);
    return h;
  }

  /** Hidden states flattened to [B*L, C] rows, the shape the softmax heads take. */
  hiddenRows(ids: Int32Array, batch: number, length: number): Tensor {
    return reshape(this.hidden(ids, batch, length), [batch * length, this.config.dim]);
  }

  /**
   * User representations after each history, [histories.length, dim], differentiable so task heads can train on
   * them. By default the hidden state at the last position (causal) or at the trailing mask token (masked); other
   * readings pool over more positions and windows (see user-vectors.ts). `query` [dim, 1]: attention pooling only.
   */
  userVectors(histories: readonly Int32Array[], reading: UserReading = LAST_POSITION, query: Tensor | null = null): Tensor {
    const { maxLen } = this.config;
    const maskToken = this.config.objective === 'masked' ? this.maskToken : null;
    const room = maskToken === null ? maxLen : maxLen - 1;
    // Rows as long as the longest window here, not maxLen: padding reads as zeros, so the result is the same.
    let longest = 1;
    for (const h of histories) longest = Math.max(longest, Math.min(room, h.length));
    const length = longest + (maskToken === null ? 0 : 1);
    const inputs = userInputs(histories, length, room, reading, (windows) => predictionInputs(windows, length, maskToken));
    return poolUsers(this.hiddenRows(inputs.ids, inputs.rows, length), inputs, reading.pooling, query);
  }
}

/** Scoring happens in user chunks so users x items scores never exceed this many floats. */
const SCORE_CHUNK_FLOATS = 1 << 22;

/** model.userVectors for many histories, in batches, without a graph: [histories.length, dim]. */
export function encodeHistories(model: NextItNet, histories: readonly Int32Array[], reading: UserReading = LAST_POSITION,
  query: Tensor | null = null, batchSize = 256): Float32Array {
  return encodeInBatches(histories, model.config.dim, (batch) => model.userVectors(batch, reading, query), batchSize);
}

/**
 * Calls visit(row, scores) for each user vector with its scores over every output row (index 0 = padding,
 * 1..numItems = items): score = user · output.weight[item] + output.bias[item]. The scores buffer is reused.
 */
export function forEachScoreRow(model: NextItNet, userVectors: Float32Array,
  visit: (row: number, scores: Float32Array) => void): void {
  forEachTableScoreRow(model.outputWeight, model.outputBias, userVectors, visit);
}

/**
 * Calls visit(row, scores) for each user vector with its scores over every row of `table` [V, dim]:
 * score = user · table[v] + bias[v] (the pretraining softmax, or a transfer task's head), in chunks of users so
 * users × rows scores never exceed SCORE_CHUNK_FLOATS. The scores buffer is reused.
 */
export function forEachTableScoreRow(table: Tensor, bias: Tensor, userVectors: Float32Array,
  visit: (row: number, scores: Float32Array) => void): void {
  const [V, dim] = table.shape as [number, number];
  const users = userVectors.length / dim;
  const chunk = Math.max(1, Math.min(users, Math.floor(SCORE_CHUNK_FLOATS / V)));
  const k = backend();
  const scores = new Float32Array(chunk * V);
  for (let start = 0; start < users; start += chunk) {
    const n = Math.min(chunk, users - start);
    const block = scores.subarray(0, n * V);
    k.gemm(false, true, n, V, dim, 1, userVectors.subarray(start * dim, (start + n) * dim), dim, table.data, dim, 0, block, V);
    k.addRowVector(block, bias.data, n, V);
    for (let i = 0; i < n; i++) visit(start + i, block.subarray(i * V, (i + 1) * V));
  }
}

/** Per row of ids [batch, length]: how many leading positions are padding (id 0) = its first real position. */
export function leftPaddingLengths(ids: Int32Array, batch: number, length: number): Int32Array {
  const starts = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let t = 0;
    while (t < length && ids[b * length + t] === 0) t++;
    starts[b] = t;
  }
  return starts;
}

/** Input table rows: padding + items (+ mask token for the masked objective). */
export function inputRows(config: ModelConfig): number {
  return config.numItems + 1 + (config.objective === 'masked' ? 1 : 0);
}
