/**
 * A user encoder as an ONNX graph (opset 17, standard operators only):
 *
 *   items int64 [batch, length], left-padded with 0  →  hidden states [batch, length, dim]
 *     →  the hidden state at the last position: user float [batch, dim]
 *
 * NextItNet: Gather(item table) → per block: x → conv(d) → LayerNorm → ReLU → conv(2d) → LayerNorm → ReLU → + x.
 * graftrec's convolutions read left padding as zeros, so each convolution's input is multiplied by the padding
 * mask (items > 0) first; its weights are stored [k, Cin, Cout] and ONNX Conv takes [Cout, Cin, k]. Causal
 * padding is Conv's own left padding of (k-1)·dilation zeros.
 *
 * SASRec: √dim · Gather(item table) + positions counted back from the last item → pre-LN layers (multi-head
 * attention, causal and blind to padding keys; ReLU feed-forward) → final LayerNorm. Masked scores get -1e9,
 * not -inf, so padding queries (which nothing reads) stay finite. Dropout is off, as in graftrec's evaluation.
 *
 * With a classify task: its patches where its insertion puts them, its pooling and item bag for `user`, and the
 * head's softmax as a second output, `probabilities` [batch, classes].
 */
import { ModelError } from '../errors.js';
import { ONNX_FLOAT, ONNX_INT64, OnnxGraph, OnnxInitializer, OnnxNode, encodeOnnxModel } from './onnx-proto.js';
import { DilatedConv1d, LayerNorm, Linear } from '../nn/layers.js';
import { UserEncoder } from '../models/encoder.js';
import { NextItNet } from '../models/nextitnet.js';
import { SASRec } from '../models/sasrec.js';
import { TransformerBlock } from '../models/transformer.js';
import type { Pooling } from '../models/user-vectors.js';
import type { PatchInsertion } from '../transfer/insertion.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

/** Why `model` cannot be exported (null when it can). */
export function onnxExportBlocker(model: UserEncoder): string | null {
  if (!(model instanceof NextItNet) && !(model instanceof SASRec)) {
    return `a ${model.backbone} model is not yet exportable to ONNX (nextitnet and sasrec are)`;
  }
  if (model.config.objective !== 'causal') {
    return `a ${model.backbone} model with the ${model.config.objective} objective is not yet exportable to ONNX (only causal)`;
  }
  if (model.config.itemEncoder !== 'id') {
    return `a ${model.backbone} model with the ${model.config.itemEncoder} item encoder is not yet exportable to ONNX (only id)`;
  }
  return null;
}

/**
 * A classification task on the model, as `graftrec finetune --type classify` saved it: its patches (by parameter
 * name, `patch.<block>.<sublayer>.{down,up}.{weight,bias}`), where they sit, how the head reads the user, and the
 * head. The model passed with it must be the task's view of the base (backbone tensors the task trained replaced).
 */
export interface OnnxClassifyTask {
  insertion: PatchInsertion | null;
  patches: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
  pooling: Pooling;
  classes: readonly string[];
  /** The head's item-bag table [input rows, dim]; null when the task has no item bag. */
  itemBag: { shape: readonly number[]; data: Float32Array } | null;
  /** [classes, dim] and [classes]. */
  headWeight: Float32Array;
  headBias: Float32Array;
}

/** Why `task` cannot be exported (null when it can). */
export function onnxTaskBlocker(task: OnnxClassifyTask): string | null {
  if (task.pooling === 'attention') return 'a task with attention pooling is not yet exportable to ONNX (last, mean and max are)';
  return null;
}

/** Nodes and initializers in the order they are added (a topological order). */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];

  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  ints(name: string, values: number[], scalar = false): string {
    return this.constant(name, scalar ? [] : [values.length], BigInt64Array.from(values, BigInt));
  }

  node(opType: string, inputs: string[], output: string, attributes?: OnnxNode['attributes']): string {
    this.nodes.push({ opType, inputs, outputs: [output], attributes });
    return output;
  }

  layerNorm(x: string, layer: LayerNorm, name: string): string {
    const gamma = this.constant(`${name}.gamma`, [...layer.gamma.shape], layer.gamma.data);
    const beta = this.constant(`${name}.beta`, [...layer.beta.shape], layer.beta.data);
    return this.node('LayerNormalization', [x, gamma, beta], `${name}.output`, { axis: -1, epsilon: { float: layer.eps } });
  }

  /** graftrec's Linear: weight [in, out], x [..., in] → x · W + b. */
  linear(x: string, layer: Linear, name: string): string {
    const w = this.constant(`${name}.weight`, [...layer.weight.shape], layer.weight.data);
    const y = this.node('MatMul', [x, w], `${name}.matmul`);
    if (!layer.bias) return y;
    return this.node('Add', [y, this.constant(`${name}.bias`, [...layer.bias.shape], layer.bias.data)], `${name}.output`);
  }

  private masks: { isItem: string; mask: string } | null = null;

  /** items > 0 [batch, length] (bool) and as float [batch, length, 1]. */
  paddingMasks(): { isItem: string; mask: string } {
    if (this.masks) return this.masks;
    const isItem = this.node('Greater', ['items', this.ints('zero', [0], true)], 'is_item');
    const mask = this.node('Unsqueeze', [this.node('Cast', [isItem], 'mask.2d', { to: ONNX_FLOAT }), this.ints('axis.-1', [-1])], 'mask');
    this.masks = { isItem, mask };
    return this.masks;
  }

  private positions: { length: string; steps: string } | null = null;

  /** The input's length (a scalar) and 0, 1, ..., length-1. */
  lengthSteps(): { length: string; steps: string } {
    if (this.positions) return this.positions;
    const length = this.node('Gather', [this.node('Shape', ['items'], 'items.shape'), this.ints('one', [1], true)], 'length', { axis: 0 });
    const zero = this.ints('zero.step', [0], true);
    const steps = this.node('Range', [zero, length, this.ints('one.step', [1], true)], 'steps');
    this.positions = { length, steps };
    return this.positions;
  }

  /** The id table rows of `items`: [batch, length, dim]. */
  itemVectors(model: NextItNet | SASRec): string {
    const table = model.items.ids!.weight;
    return this.node('Gather', [this.constant('items.weight', [...table.shape], table.data), 'items'], 'embedded', { axis: 0 });
  }
}

/** [k, Cin, Cout] → [Cout, Cin, k]. */
function convWeight(conv: DilatedConv1d): Float32Array {
  const [k, cin, cout] = conv.weight.shape as [number, number, number];
  const src = conv.weight.data;
  const out = new Float32Array(src.length);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < cin; i++) {
      for (let o = 0; o < cout; o++) out[(o * cin + i) * k + j] = src[(j * cin + i) * cout + o]!;
    }
  }
  return out;
}

function nextItNetHidden(g: GraphBuilder, model: NextItNet, p: GraphPatches): string {
  const { mask } = g.paddingMasks();
  const conv = (x: string, layer: DilatedConv1d, name: string): string => {
    const w = g.constant(`${name}.weight`, [layer.weight.shape[2]!, layer.weight.shape[1]!, layer.kernelSize], convWeight(layer));
    const b = g.constant(`${name}.bias`, [...layer.bias.shape], layer.bias.data);
    const masked = g.node('Mul', [x, mask], `${name}.input`);
    const channelsFirst = g.node('Transpose', [masked], `${name}.input.ncl`, { perm: [0, 2, 1] });
    const y = g.node('Conv', [channelsFirst, w, b], `${name}.output.ncl`, {
      dilations: [layer.dilation],
      kernel_shape: [layer.kernelSize],
      pads: [(layer.kernelSize - 1) * layer.dilation, 0],
      strides: [1],
    });
    return g.node('Transpose', [y], `${name}.output`, { perm: [0, 2, 1] });
  };
  const normRelu = (x: string, layer: LayerNorm, name: string): string => g.node('Relu', [g.layerNorm(x, layer, name)], `${name}.relu`);

  let h = g.itemVectors(model);
  model.blocks.forEach((block, i) => {
    const name = `block.${i}`;
    const a = normRelu(p.afterSublayer(i, 0, conv(h, block.conv1, `${name}.conv1`), h), block.ln1, `${name}.ln1`);
    const f = normRelu(p.afterSublayer(i, 1, conv(a, block.conv2, `${name}.conv2`), a), block.ln2, `${name}.ln2`);
    h = p.residual(i, h, f);
  });
  return h;
}

function sasrecHidden(g: GraphBuilder, model: SASRec, p: GraphPatches): string {
  const { dim, heads } = model.config;
  const dh = dim / heads;
  // The position rows counted back from the last item (length-1, ..., 0): the last `length` rows of the table
  // stored in reverse order.
  const { length, steps } = g.lengthSteps();
  const table = model.positions.weight;
  const [maxLen] = table.shape as [number, number];
  const reversed = new Float32Array(table.data.length);
  for (let r = 0; r < maxLen; r++) reversed.set(table.data.subarray((maxLen - 1 - r) * dim, (maxLen - r) * dim), r * dim);
  const first = g.node('Unsqueeze', [g.node('Sub', [g.ints('max_len', [maxLen], true), length], 'first_position'), g.ints('axis.0', [0])], 'first_position.1d');
  const positions = g.node('Slice', [g.constant('positions.reversed', [...table.shape], reversed), first,
    g.ints('positions.end', [maxLen]), g.ints('positions.axes', [0])], 'positions');
  const scaled = g.node('Mul', [g.itemVectors(model), g.constant('sqrt_dim', [], Float32Array.of(Math.sqrt(dim)))], 'embedded.scaled');
  let h = g.node('Add', [scaled, positions], 'embedded.positioned');

  // Additive attention mask [batch, 1, length, length]: 0 where key j ≤ query i and key j is an item, else -1e9.
  const { isItem } = g.paddingMasks();
  const causal = g.node('LessOrEqual', [g.node('Unsqueeze', [steps, 'axis.0'], 'keys'),
    g.node('Unsqueeze', [steps, g.ints('axis.1', [1])], 'queries')], 'causal');
  const realKey = g.node('Unsqueeze', [isItem, g.ints('axes.1.2', [1, 2])], 'real_key');
  const allowed = g.node('And', [causal, realKey], 'allowed');
  const mask = g.node('Where', [allowed, g.constant('score.allowed', [], Float32Array.of(0)),
    g.constant('score.masked', [], Float32Array.of(-1e9))], 'attention.mask');
  const splitHeads = g.ints('shape.heads', [0, 0, heads, dh]);
  const joinHeads = g.ints('shape.joined', [0, 0, dim]);
  const scale = g.constant('attention.scale', [], Float32Array.of(1 / Math.sqrt(dh)));

  const attention = (a: string, block: TransformerBlock, name: string): string => {
    const perHead = (layer: Linear, part: string, perm: number[]) => g.node('Transpose',
      [g.node('Reshape', [g.linear(a, layer, `${name}.${part}`), splitHeads], `${name}.${part}.heads`)], `${name}.${part}.bhld`, { perm });
    const q = perHead(block.query, 'query', [0, 2, 1, 3]);
    const kT = perHead(block.key, 'key', [0, 2, 3, 1]);
    const v = perHead(block.value, 'value', [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Mul', [g.node('MatMul', [q, kT], `${name}.qk`), scale], `${name}.scores.scaled`), mask], `${name}.scores`);
    const probs = g.node('Softmax', [scores], `${name}.probs`, { axis: -1 });
    const context = g.node('Reshape', [g.node('Transpose', [g.node('MatMul', [probs, v], `${name}.context.bhld`)],
      `${name}.context.blhd`, { perm: [0, 2, 1, 3] }), joinHeads], `${name}.context`);
    return g.linear(context, block.output, `${name}.output`);
  };

  model.blocks.forEach((block, i) => {
    const name = `block.${i}`;
    const a = g.layerNorm(h, block.ln1, `${name}.ln1`);
    h = g.node('Add', [h, p.afterSublayer(i, 0, attention(a, block, `${name}.attention`), a)], `${name}.attended`);
    const f = g.layerNorm(h, block.ln2, `${name}.ln2`);
    const inner = g.node('Relu', [g.linear(f, block.ff1, `${name}.ff1`)], `${name}.ff1.relu`);
    h = p.residual(i, h, p.afterSublayer(i, 1, g.linear(inner, block.ff2, `${name}.ff2`), f));
  });
  return g.layerNorm(h, model.finalNorm, 'final_norm');
}

/** Where a task's patches go into each block (see transfer/insertion.ts); the identity without a task. */
class GraphPatches {
  constructor(private readonly g: GraphBuilder, private readonly model: UserEncoder, private readonly task: OnnxClassifyTask | null) {}

  private tensor(name: string): string {
    const t = this.task!.patches.get(name);
    if (!t) throw new ModelError(`the task has no tensor ${name}, which its ${this.task!.insertion} patches need`);
    return this.g.constant(name, [...t.shape], t.data);
  }

  /** Δ(x) = Up(GELU(Down(x))), GELU in its tanh form as graftrec computes it. */
  private delta(x: string, prefix: string): string {
    const g = this.g;
    const linear = (input: string, part: string) => g.node('Add', [g.node('MatMul', [input, this.tensor(`${prefix}.${part}.weight`)],
      `${prefix}.${part}.matmul`), this.tensor(`${prefix}.${part}.bias`)], `${prefix}.${part}.output`);
    const u = linear(x, 'down');
    const cubic = g.node('Mul', [g.node('Mul', [g.node('Mul', [u, u], `${prefix}.u2`), u], `${prefix}.u3`),
      g.constant(`${prefix}.gelu.c`, [], Float32Array.of(0.044715))], `${prefix}.cubic`);
    const inner = g.node('Mul', [g.node('Add', [u, cubic], `${prefix}.gelu.arg`), g.constant(`${prefix}.gelu.k`, [], Float32Array.of(Math.sqrt(2 / Math.PI)))], `${prefix}.gelu.scaled`);
    const onePlus = g.node('Add', [g.node('Tanh', [inner], `${prefix}.gelu.tanh`), g.constant(`${prefix}.gelu.one`, [], Float32Array.of(1))], `${prefix}.gelu.sum`);
    const gelu = g.node('Mul', [g.node('Mul', [u, onePlus], `${prefix}.gelu.prod`), g.constant(`${prefix}.gelu.half`, [], Float32Array.of(0.5))], `${prefix}.gelu`);
    return linear(gelu, 'up');
  }

  /** What continues after sublayer `index` of block `block`, given its output and its input. */
  afterSublayer(block: number, index: 0 | 1, output: string, input: string): string {
    const insertion = this.task?.insertion ?? null;
    const prefix = `patch.${block}.${this.model.sublayerNames[index]}`;
    switch (insertion) {
      case 'serial-each-conv':
      case 'serial-each-sublayer':
        return this.g.node('Add', [output, this.delta(output, prefix)], `${prefix}.output`);
      case 'serial-second-conv':
        return index === 1 ? this.g.node('Add', [output, this.delta(output, prefix)], `${prefix}.output`) : output;
      case 'parallel-each-conv':
      case 'parallel-each-sublayer':
        return this.g.node('Add', [output, this.delta(input, prefix)], `${prefix}.output`);
      default:
        return output;
    }
  }

  /** The block's output from its input x and residual branch. */
  residual(block: number, x: string, branch: string): string {
    const sum = this.g.node('Add', [x, branch], `block.${block}.output`);
    if (this.task?.insertion !== 'residual-mixed') return sum;
    const prefix = `patch.${block}.residual`;
    return this.g.node('Add', [sum, this.delta(branch, prefix)], `${prefix}.output`);
  }
}

/** The user vector [batch, dim] from hidden states [batch, length, dim], as `pooling` reads them. */
function pool(g: GraphBuilder, h: string, pooling: Pooling, user: string): string {
  if (pooling === 'last') return g.node('Gather', [h, g.ints('last', [-1], true)], user, { axis: 1 });
  const { mask } = g.paddingMasks();
  if (pooling === 'mean') {
    const axis = g.ints('pool.axes', [1]);
    const sum = g.node('ReduceSum', [g.node('Mul', [h, mask], 'pool.masked'), axis], 'pool.sum', { keepdims: 0 });
    return g.node('Div', [sum, g.node('ReduceSum', [mask, axis], 'pool.count', { keepdims: 0 })], user);
  }
  // max: padding positions pushed far below any real one
  const penalty = g.node('Mul', [g.node('Sub', [mask, g.constant('pool.one', [], Float32Array.of(1))], 'pool.padding'),
    g.constant('pool.big', [], Float32Array.of(1e9))], 'pool.penalty');
  return g.node('ReduceMax', [g.node('Add', [h, penalty], 'pool.masked')], user, { axes: [1], keepdims: 0 });
}

/**
 * The head's item bag [batch, dim]: Σ over the distinct items of the input of bag[item] / √(distinct items) (the
 * binary, unit-norm bag of items). An item counts at its first occurrence: no equal id at an earlier position.
 */
function itemBagSum(g: GraphBuilder, table: { shape: readonly number[]; data: Float32Array }): string {
  const { mask } = g.paddingMasks();
  const { steps } = g.lengthSteps();
  const same = g.node('Equal', [g.node('Unsqueeze', ['items', g.ints('bag.axis.2', [2])], 'bag.at'),
    g.node('Unsqueeze', ['items', g.ints('bag.axis.1', [1])], 'bag.other')], 'bag.same');
  const earlier = g.node('Less', [g.node('Unsqueeze', [steps, g.ints('bag.axis.0', [0])], 'bag.s'),
    g.node('Unsqueeze', [steps, 'bag.axis.1'], 'bag.t')], 'bag.earlier');
  const repeated = g.node('ReduceMax', [g.node('Cast', [g.node('And', [same, earlier], 'bag.repeat')], 'bag.repeat.f', { to: ONNX_FLOAT })],
    'bag.repeated', { axes: [2], keepdims: 1 });
  const first = g.node('Mul', [mask, g.node('Sub', [g.constant('bag.one', [], Float32Array.of(1)), repeated], 'bag.new')], 'bag.first');
  const count = g.node('ReduceSum', [first, g.ints('bag.axes', [1])], 'bag.count', { keepdims: 1 });
  const norm = g.node('Sqrt', [g.node('Max', [count, 'bag.one'], 'bag.count.min1')], 'bag.norm');
  const rows = g.node('Gather', [g.constant('head.item_bag.weight', [...table.shape], table.data), 'items'], 'bag.rows', { axis: 0 });
  const weighted = g.node('Mul', [rows, g.node('Div', [first, norm], 'bag.weights')], 'bag.weighted');
  return g.node('ReduceSum', [weighted, 'bag.axes'], 'bag', { keepdims: 0 });
}

/**
 * The graph of `model`'s user encoder (output `user`, the last position), or with `task` of the task's reading
 * (output `user`, pooled as the task reads it) and its class probabilities (output `probabilities`).
 */
export function userEncoderOnnxGraph(model: UserEncoder, task: OnnxClassifyTask | null = null): OnnxGraph {
  const blocker = onnxExportBlocker(model) ?? (task && onnxTaskBlocker(task));
  if (blocker) throw new ModelError(blocker);
  const g = new GraphBuilder();
  const patches = new GraphPatches(g, model, task);
  const h = model instanceof NextItNet ? nextItNetHidden(g, model, patches) : sasrecHidden(g, model as SASRec, patches);
  const { dim } = model.config;
  const bag = task?.itemBag ?? null;
  const pooled = pool(g, h, task?.pooling ?? 'last', bag ? 'user.network' : 'user');
  if (bag) g.node('Add', [pooled, itemBagSum(g, bag)], 'user');
  const outputs = [{ name: 'user', elemType: ONNX_FLOAT, shape: ['batch', dim] as (string | number)[] }];
  if (task) {
    const classes = task.classes.length;
    const transposed = new Float32Array(classes * dim);
    for (let c = 0; c < classes; c++) for (let k = 0; k < dim; k++) transposed[k * classes + c] = task.headWeight[c * dim + k]!;
    const logits = g.node('Add', [g.node('MatMul', ['user', g.constant('head.weight.t', [dim, classes], transposed)], 'head.matmul'),
      g.constant('head.bias', [classes], task.headBias)], 'logits');
    g.node('Softmax', [logits], 'probabilities', { axis: -1 });
    outputs.push({ name: 'probabilities', elemType: ONNX_FLOAT, shape: ['batch', classes] });
  }
  return {
    name: `graftrec_${model.backbone}_user_encoder`,
    doc: 'items: item ids [batch, length] (1-based in the model\'s items.json order; 0 = left padding; at most max_len). '
      + (task ? `user: the user vector the task reads (${task.pooling} pooling${bag ? ' plus the item bag' : ''}) [batch, dim]; `
        + `probabilities: the classes ${JSON.stringify(task.classes)} [batch, classes].`
        : 'user: the hidden state at the last position [batch, dim].'),
    inputs: [{ name: 'items', elemType: ONNX_INT64, shape: ['batch', 'length'] }],
    outputs,
    nodes: g.nodes,
    initializers: g.initializers,
  };
}

/** The serialised ONNX model of `model`'s user encoder (with `task`: of the task's reading and its classifier). */
export function exportOnnx(model: UserEncoder, producerVersion: string, metadata: Record<string, string> = {},
  task: OnnxClassifyTask | null = null): Uint8Array {
  return encodeOnnxModel(userEncoderOnnxGraph(model, task), {
    irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion,
    metadata: { ...metadata, backbone: model.backbone, dim: String(model.config.dim), max_len: String(model.config.maxLen) },
  });
}
