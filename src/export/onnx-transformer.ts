/**
 * SASRec's and BERT4Rec's hidden states as ONNX, from the pieces they share (models/transformer.ts):
 *
 *   embedding   item rows (× √dim for SASRec) + position rows counted back from the last input
 *   layers      pre-LN: multi-head attention (causal for SASRec, bidirectional for BERT4Rec; blind to padding
 *               keys), then the feed-forward network (ReLU or GELU)
 *   output      SASRec: the final LayerNorm; BERT4Rec: LN_out(GELU(Wp · LN(h) + bp))
 *
 * Masked scores get -1e9, not -inf, so padding queries (which nothing reads) stay finite. Dropout is off, as in
 * graftrec's evaluation.
 */
import { GraphBuilder } from './onnx-graph.js';
import { GraphPatches } from './onnx-patches.js';
import { Linear } from '../nn/layers.js';
import { BERT4Rec } from '../models/bert4rec.js';
import { SASRec } from '../models/sasrec.js';
import { TransformerBlock } from '../models/transformer.js';

/** item rows · itemScale + the position rows counted back from the last input (length-1, ..., 0). */
function embedWithPositions(g: GraphBuilder, model: SASRec | BERT4Rec, ids: string, itemScale: number): string {
  const { dim } = model.config;
  // The last `length` rows of the position table stored in reverse order.
  const { length } = g.lengthSteps(ids);
  const table = model.positions.weight;
  const [maxLen] = table.shape as [number, number];
  const reversed = new Float32Array(table.data.length);
  for (let r = 0; r < maxLen; r++) reversed.set(table.data.subarray((maxLen - 1 - r) * dim, (maxLen - r) * dim), r * dim);
  const first = g.node('Unsqueeze', [g.node('Sub', [g.ints('max_len', [maxLen], true), length], 'first_position'), g.ints('axis.0', [0])], 'first_position.1d');
  const positions = g.node('Slice', [g.constant('positions.reversed', [...table.shape], reversed), first,
    g.ints('positions.end', [maxLen]), g.ints('axis.0', [0])], 'positions');
  const items = itemScale === 1 ? g.itemVectors(model, ids)
    : g.node('Mul', [g.itemVectors(model, ids), g.float('item_scale', itemScale)], 'embedded.scaled');
  return g.node('Add', [items, positions], 'embedded.positioned');
}

/** The transformer layers over embedded inputs `h` of `ids`. */
function transformerLayers(g: GraphBuilder, blocks: readonly TransformerBlock[], h: string, ids: string, p: GraphPatches): string {
  if (blocks.length === 0) return h;
  const { dim, heads, causal, activation } = blocks[0]!.options;
  const dh = dim / heads;
  // Additive attention mask [batch, 1, length, length]: 0 where key j is an input (and j ≤ query i when causal), else -1e9.
  const { isItem } = g.paddingMasks(ids);
  const { steps } = g.lengthSteps(ids);
  let allowed = g.node('Unsqueeze', [isItem, g.ints('axes.1.2', [1, 2])], 'real_key');
  if (causal) {
    const order = g.node('LessOrEqual', [g.node('Unsqueeze', [steps, g.ints('axis.0', [0])], 'keys'),
      g.node('Unsqueeze', [steps, g.ints('axis.1', [1])], 'queries')], 'causal');
    allowed = g.node('And', [order, allowed], 'allowed');
  }
  const mask = g.node('Where', [allowed, g.float('score.allowed', 0), g.float('score.masked', -1e9)], 'attention.mask');
  const splitHeads = g.ints('shape.heads', [0, 0, heads, dh]);
  const joinHeads = g.ints('shape.joined', [0, 0, dim]);
  const scale = g.float('attention.scale', 1 / Math.sqrt(dh));

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

  blocks.forEach((block, i) => {
    const name = `block.${i}`;
    const a = g.layerNorm(h, block.ln1, `${name}.ln1`);
    h = g.node('Add', [h, p.afterSublayer(i, 0, attention(a, block, `${name}.attention`), a)], `${name}.attended`);
    const f = g.layerNorm(h, block.ln2, `${name}.ln2`);
    const pre = g.linear(f, block.ff1, `${name}.ff1`);
    const inner = activation === 'gelu' ? g.gelu(pre, `${name}.ff1.gelu`) : g.node('Relu', [pre], `${name}.ff1.relu`);
    h = p.residual(i, h, p.afterSublayer(i, 1, g.linear(inner, block.ff2, `${name}.ff2`), f));
  });
  return h;
}

export function sasrecHidden(g: GraphBuilder, model: SASRec, ids: string, p: GraphPatches): string {
  const h = transformerLayers(g, model.blocks, embedWithPositions(g, model, ids, Math.sqrt(model.config.dim)), ids, p);
  return g.layerNorm(h, model.finalNorm, 'final_norm');
}

export function bert4recHidden(g: GraphBuilder, model: BERT4Rec, ids: string, p: GraphPatches): string {
  const h = transformerLayers(g, model.blocks, embedWithPositions(g, model, ids, 1), ids, p);
  const projected = g.linear(g.layerNorm(h, model.finalNorm, 'final_norm'), model.projection, 'output.projection');
  return g.layerNorm(g.gelu(projected, 'output.projection.gelu'), model.projectionNorm, 'output.norm');
}
