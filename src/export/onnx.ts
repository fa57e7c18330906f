/**
 * A NextItNet user encoder as an ONNX graph (opset 17, standard operators only):
 *
 *   items int64 [batch, length], left-padded with 0
 *     → Gather(item table) → per block: x → conv(d) → LayerNorm → ReLU → conv(2d) → LayerNorm → ReLU → + x
 *     → the hidden state at the last position: user float [batch, dim]
 *
 * graftrec's convolutions read left padding as zeros, so each convolution's input is multiplied by the padding
 * mask (items > 0) first; its weights are stored [k, Cin, Cout] and ONNX Conv takes [Cout, Cin, k]. Causal
 * padding is Conv's own left padding of (k-1)·dilation zeros.
 */
import { ModelError } from '../errors.js';
import { ONNX_FLOAT, ONNX_INT64, OnnxGraph, OnnxInitializer, OnnxNode, encodeOnnxModel } from './onnx-proto.js';
import { DilatedConv1d, LayerNorm } from '../nn/layers.js';
import { UserEncoder } from '../models/encoder.js';
import { NextItNet } from '../models/nextitnet.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

/** Why `model` cannot be exported (null when it can). */
export function onnxExportBlocker(model: UserEncoder): string | null {
  if (!(model instanceof NextItNet)) return `a ${model.backbone} model is not yet exportable to ONNX (only nextitnet is)`;
  if (model.config.objective !== 'causal') return `a ${model.config.objective} nextitnet model is not yet exportable to ONNX (only causal)`;
  if (model.config.itemEncoder !== 'id') {
    return `a nextitnet model with the ${model.config.itemEncoder} item encoder is not yet exportable to ONNX (only id)`;
  }
  if (model.blocks.some((b) => b.patches)) return 'a patched model is not yet exportable to ONNX';
  return null;
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

export function nextItNetOnnxGraph(model: NextItNet): OnnxGraph {
  const blocker = onnxExportBlocker(model);
  if (blocker) throw new ModelError(blocker);
  const { dim, layerNormEps } = model.config;
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  const constant = (name: string, dims: number[], data: Float32Array | BigInt64Array): string => {
    initializers.push({ name, dims, data });
    return name;
  };
  const node = (opType: string, inputs: string[], output: string, attributes?: OnnxNode['attributes']): string => {
    nodes.push({ opType, inputs, outputs: [output], attributes });
    return output;
  };

  const table = model.items.ids!.weight;
  constant('items.weight', [...table.shape], table.data);
  const zero = constant('zero', [], new BigInt64Array([0n]));
  const lastAxis = constant('axis.-1', [1], new BigInt64Array([-1n]));
  // mask [batch, length, 1]: 1 at items, 0 at padding
  const isItem = node('Greater', ['items', zero], 'is_item');
  const mask = node('Unsqueeze', [node('Cast', [isItem], 'mask.2d', { to: ONNX_FLOAT }), lastAxis], 'mask');

  const conv = (x: string, layer: DilatedConv1d, name: string): string => {
    const w = constant(`${name}.weight`, [layer.weight.shape[2]!, layer.weight.shape[1]!, layer.kernelSize], convWeight(layer));
    const b = constant(`${name}.bias`, [...layer.bias.shape], layer.bias.data);
    const masked = node('Mul', [x, mask], `${name}.input`);
    const channelsFirst = node('Transpose', [masked], `${name}.input.ncl`, { perm: [0, 2, 1] });
    const y = node('Conv', [channelsFirst, w, b], `${name}.output.ncl`, {
      dilations: [layer.dilation],
      kernel_shape: [layer.kernelSize],
      pads: [(layer.kernelSize - 1) * layer.dilation, 0],
      strides: [1],
    });
    return node('Transpose', [y], `${name}.output`, { perm: [0, 2, 1] });
  };
  const normRelu = (x: string, layer: LayerNorm, name: string): string => {
    const gamma = constant(`${name}.gamma`, [...layer.gamma.shape], layer.gamma.data);
    const beta = constant(`${name}.beta`, [...layer.beta.shape], layer.beta.data);
    const y = node('LayerNormalization', [x, gamma, beta], `${name}.output`, { axis: -1, epsilon: { float: layerNormEps } });
    return node('Relu', [y], `${name}.relu`);
  };

  let h = node('Gather', ['items.weight', 'items'], 'embedded', { axis: 0 });
  model.blocks.forEach((block, i) => {
    const name = `block.${i}`;
    const a = normRelu(conv(h, block.conv1, `${name}.conv1`), block.ln1, `${name}.ln1`);
    const f = normRelu(conv(a, block.conv2, `${name}.conv2`), block.ln2, `${name}.ln2`);
    h = node('Add', [h, f], `${name}.output`);
  });
  const last = constant('last', [], new BigInt64Array([-1n]));
  node('Gather', [h, last], 'user', { axis: 1 });

  return {
    name: 'graftrec_nextitnet_user_encoder',
    doc: 'items: item ids [batch, length] (1-based as in the model\'s items.json order; 0 = left padding). '
      + 'user: the hidden state at the last position [batch, dim].',
    inputs: [{ name: 'items', elemType: ONNX_INT64, shape: ['batch', 'length'] }],
    outputs: [{ name: 'user', elemType: ONNX_FLOAT, shape: ['batch', dim] }],
    nodes,
    initializers,
  };
}

/** The serialised ONNX model of `model`'s user encoder. */
export function exportOnnx(model: UserEncoder, producerVersion: string, metadata: Record<string, string> = {}): Uint8Array {
  const blocker = onnxExportBlocker(model);
  if (blocker) throw new ModelError(blocker);
  return encodeOnnxModel(nextItNetOnnxGraph(model as NextItNet), {
    irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion,
    metadata: { ...metadata, backbone: model.backbone, dim: String(model.config.dim), max_len: String(model.config.maxLen) },
  });
}
