/**
 * GRU4Rec's hidden states as ONNX: Gather(item table) → per layer the standard GRU operator.
 *
 * graftrec's GRU (native/gru.cc) is PyTorch's: gates in the order r, z, n with n = tanh(x·W_in + b_in +
 * r ⊙ (h·W_hn + b_hn)), which is ONNX's GRU with linear_before_reset = 1 once the gates are reordered to ONNX's
 * z, r, h and the weights transposed from graftrec's [in, 3H] to ONNX's [3H, in].
 *
 * graftrec starts each recurrence from the zero state at a row's first real item and leaves padding at zero, but
 * ONNX's GRU starts every row at position 0 (its sequence_lens describes right padding only). So each row is
 * rotated left by its padding — its items first, from the zero state, the padding after them, where what the
 * recurrence computes reaches no real position — and rotated back; the padding positions are then zeroed, as
 * graftrec leaves them.
 */
import { ONNX_FLOAT, ONNX_INT64 } from './onnx-proto.js';
import { GraphBuilder } from './onnx-graph.js';
import { GRU4Rec, GruLayer } from '../models/gru4rec.js';

/** graftrec's gate blocks (r, z, n) in ONNX's order (z, r, h). */
const ONNX_GATE_FROM = [1, 0, 2];

/** [in, 3H] with gates r, z, n → [1, 3H, in] with gates z, r, h. */
function gateMajor(weight: Float32Array, inputs: number, hidden: number): Float32Array {
  const out = new Float32Array(weight.length);
  ONNX_GATE_FROM.forEach((from, gate) => {
    for (let j = 0; j < hidden; j++) {
      for (let i = 0; i < inputs; i++) out[(gate * hidden + j) * inputs + i] = weight[i * 3 * hidden + from * hidden + j]!;
    }
  });
  return out;
}

/** [W_b; R_b] in ONNX's gate order: [1, 6H]. */
function gruBias(layer: GruLayer, hidden: number): Float32Array {
  const out = new Float32Array(6 * hidden);
  [layer.inputBias.data, layer.hiddenBias.data].forEach((bias, side) => ONNX_GATE_FROM.forEach((from, gate) => {
    out.set(bias.subarray(from * hidden, (from + 1) * hidden), (side * 3 + gate) * hidden);
  }));
  return out;
}

/** Each row of x [batch, length, ...] rotated left by `shift` [batch, 1] positions (GatherElements on axis 1). */
function rotate(g: GraphBuilder, x: string, steps: string, length: string, shift: string, name: string, trailing: string | null): string {
  let index = g.node('Mod', [g.node('Add', [g.node('Unsqueeze', [steps, g.ints('axis.0', [0])], `${name}.steps`), shift], `${name}.shifted`), length],
    `${name}.index`);
  if (trailing) index = g.node('Expand', [g.node('Unsqueeze', [index, g.ints('axis.-1', [-1])], `${name}.index.3d`), trailing], `${name}.index.full`);
  return g.node('GatherElements', [x, index], name, { axis: 1 });
}

export function gru4recHidden(g: GraphBuilder, model: GRU4Rec, ids: string): string {
  const { dim } = model.config;
  const { isItem, mask } = g.paddingMasks(ids);
  const { length, steps } = g.lengthSteps(ids);
  const count = g.node('Cast', [g.node('ReduceSum', [g.node('Cast', [isItem], 'gru.is_item.f', { to: ONNX_FLOAT }),
    g.ints('axis.1', [1])], 'gru.count.f', { keepdims: 1 })], 'gru.count', { to: ONNX_INT64 });
  const padding = g.node('Sub', [length, count], 'gru.padding');
  // Items first: a row of p padding positions read from position p on.
  const rotated = rotate(g, ids, steps, length, padding, 'gru.items', null);
  let x = g.node('Transpose', [g.itemVectors(model, rotated)], 'gru.input', { perm: [1, 0, 2] });
  model.blocks.forEach((layer, i) => {
    const name = `gru.${i}`;
    const w = g.constant(`${name}.W`, [1, 3 * dim, dim], gateMajor(layer.inputWeight.data, dim, dim));
    const r = g.constant(`${name}.R`, [1, 3 * dim, dim], gateMajor(layer.hiddenWeight.data, dim, dim));
    const b = g.constant(`${name}.B`, [1, 6 * dim], gruBias(layer, dim));
    const y = g.node('GRU', [x, w, r, b], `${name}.Y`, { hidden_size: dim, linear_before_reset: 1 });
    x = g.node('Squeeze', [y, g.ints('axis.1', [1])], `${name}.output`);
  });
  const states = g.node('Transpose', [x], 'gru.states.rotated', { perm: [1, 0, 2] });
  // Back in place: position t reads rotated position t + count (mod length), which for padding is past the items.
  const shape = g.node('Shape', [states], 'gru.states.shape');
  const restored = rotate(g, states, steps, length, count, 'gru.states', shape);
  return g.node('Mul', [restored, mask], 'gru.hidden');
}
