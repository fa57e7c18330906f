/**
 * NextItNet's hidden states as ONNX: Gather(item table) → per block: x → conv(d) → LayerNorm → ReLU → conv(2d) →
 * LayerNorm → ReLU → + x.
 *
 * graftrec's convolutions read left padding as zeros, so each convolution's input is multiplied by the padding
 * mask (ids > 0) first; its weights are stored [k, Cin, Cout] and ONNX Conv takes [Cout, Cin, k]. Conv's own zero
 * padding gives graftrec's taps: (k-1)·dilation on the left for a causal convolution, half that on each side for
 * a centred one (the masked objective).
 */
import { GraphBuilder } from './onnx-graph.js';
import { GraphPatches } from './onnx-patches.js';
import { DilatedConv1d, LayerNorm } from '../nn/layers.js';
import { NextItNet } from '../models/nextitnet.js';

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

export function nextItNetHidden(g: GraphBuilder, model: NextItNet, ids: string, p: GraphPatches): string {
  const { mask } = g.paddingMasks(ids);
  const conv = (x: string, layer: DilatedConv1d, name: string): string => {
    const w = g.constant(`${name}.weight`, [layer.weight.shape[2]!, layer.weight.shape[1]!, layer.kernelSize], convWeight(layer));
    const b = g.constant(`${name}.bias`, [...layer.bias.shape], layer.bias.data);
    const masked = g.node('Mul', [x, mask], `${name}.input`);
    const channelsFirst = g.node('Transpose', [masked], `${name}.input.ncl`, { perm: [0, 2, 1] });
    const reach = (layer.kernelSize - 1) * layer.dilation;
    const y = g.node('Conv', [channelsFirst, w, b], `${name}.output.ncl`, {
      dilations: [layer.dilation],
      kernel_shape: [layer.kernelSize],
      pads: layer.causal ? [reach, 0] : [reach / 2, reach / 2],
      strides: [1],
    });
    return g.node('Transpose', [y], `${name}.output`, { perm: [0, 2, 1] });
  };
  const normRelu = (x: string, layer: LayerNorm, name: string): string => g.node('Relu', [g.layerNorm(x, layer, name)], `${name}.relu`);

  let h = g.itemVectors(model, ids);
  model.blocks.forEach((block, i) => {
    const name = `block.${i}`;
    const a = normRelu(p.afterSublayer(i, 0, conv(h, block.conv1, `${name}.conv1`), h), block.ln1, `${name}.ln1`);
    const f = normRelu(p.afterSublayer(i, 1, conv(a, block.conv2, `${name}.conv2`), a), block.ln2, `${name}.ln2`);
    h = p.residual(i, h, f);
  });
  return h;
}
