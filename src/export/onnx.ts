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
 */
import { ModelError } from '../errors.js';
import { ONNX_FLOAT, ONNX_INT64, OnnxGraph, OnnxInitializer, OnnxNode, encodeOnnxModel } from './onnx-proto.js';
import { DilatedConv1d, LayerNorm, Linear } from '../nn/layers.js';
import { UserEncoder } from '../models/encoder.js';
import { NextItNet } from '../models/nextitnet.js';
import { SASRec } from '../models/sasrec.js';
import { TransformerBlock } from '../models/transformer.js';

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
  if (model.blocks.some((b) => b.patches)) return 'a patched model is not yet exportable to ONNX';
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

function nextItNetHidden(g: GraphBuilder, model: NextItNet): string {
  const zero = g.ints('zero', [0], true);
  const isItem = g.node('Greater', ['items', zero], 'is_item');
  // [batch, length, 1]: 1 at items, 0 at padding
  const mask = g.node('Unsqueeze', [g.node('Cast', [isItem], 'mask.2d', { to: ONNX_FLOAT }), g.ints('axis.-1', [-1])], 'mask');
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
    const a = normRelu(conv(h, block.conv1, `${name}.conv1`), block.ln1, `${name}.ln1`);
    const f = normRelu(conv(a, block.conv2, `${name}.conv2`), block.ln2, `${name}.ln2`);
    h = g.node('Add', [h, f], `${name}.output`);
  });
  return h;
}

function sasrecHidden(g: GraphBuilder, model: SASRec): string {
  const { dim, heads } = model.config;
  const dh = dim / heads;
  // The position rows counted back from the last item (length-1, ..., 0): the last `length` rows of the table
  // stored in reverse order.
  const length = g.node('Gather', [g.node('Shape', ['items'], 'items.shape'), g.ints('one', [1], true)], 'length', { axis: 0 });
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
  const steps = g.node('Range', [g.ints('zero', [0], true), length, g.ints('one.step', [1], true)], 'steps');
  const causal = g.node('LessOrEqual', [g.node('Unsqueeze', [steps, 'axis.0'], 'keys'),
    g.node('Unsqueeze', [steps, g.ints('axis.1', [1])], 'queries')], 'causal');
  const realKey = g.node('Unsqueeze', [g.node('Greater', ['items', 'zero'], 'is_item'), g.ints('axes.1.2', [1, 2])], 'real_key');
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
    h = g.node('Add', [h, attention(g.layerNorm(h, block.ln1, `${name}.ln1`), block, `${name}.attention`)], `${name}.attended`);
    const inner = g.node('Relu', [g.linear(g.layerNorm(h, block.ln2, `${name}.ln2`), block.ff1, `${name}.ff1`)], `${name}.ff1.relu`);
    h = g.node('Add', [h, g.linear(inner, block.ff2, `${name}.ff2`)], `${name}.output`);
  });
  return g.layerNorm(h, model.finalNorm, 'final_norm');
}

export function userEncoderOnnxGraph(model: UserEncoder): OnnxGraph {
  const blocker = onnxExportBlocker(model);
  if (blocker) throw new ModelError(blocker);
  const g = new GraphBuilder();
  const h = model instanceof NextItNet ? nextItNetHidden(g, model) : sasrecHidden(g, model as SASRec);
  g.node('Gather', [h, g.ints('last', [-1], true)], 'user', { axis: 1 });
  return {
    name: `graftrec_${model.backbone}_user_encoder`,
    doc: 'items: item ids [batch, length] (1-based in the model\'s items.json order; 0 = left padding; at most max_len). '
      + 'user: the hidden state at the last position [batch, dim].',
    inputs: [{ name: 'items', elemType: ONNX_INT64, shape: ['batch', 'length'] }],
    outputs: [{ name: 'user', elemType: ONNX_FLOAT, shape: ['batch', model.config.dim] }],
    nodes: g.nodes,
    initializers: g.initializers,
  };
}

/** The serialised ONNX model of `model`'s user encoder. */
export function exportOnnx(model: UserEncoder, producerVersion: string, metadata: Record<string, string> = {}): Uint8Array {
  return encodeOnnxModel(userEncoderOnnxGraph(model), {
    irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion,
    metadata: { ...metadata, backbone: model.backbone, dim: String(model.config.dim), max_len: String(model.config.maxLen) },
  });
}
