/**
 * A task's reading of the user on top of the network's hidden states [batch, length, dim]: its pooling over the
 * real positions, its item bag, and its head's scores over its rows (classes or target items).
 */
import { ONNX_FLOAT } from './onnx-proto.js';
import { GraphBuilder } from './onnx-graph.js';
import { OnnxTensor } from './onnx-patches.js';
import type { Pooling } from '../models/user-vectors.js';

/** Padding positions pushed far below any real one (added to a score or value before a max or softmax). */
function paddingPenalty(g: GraphBuilder, mask: string, name: string): string {
  return g.node('Mul', [g.node('Sub', [mask, g.float('one.f', 1)], `${name}.padding`), g.float('pool.big', 1e9)], `${name}.penalty`);
}

/**
 * The user vector [batch, dim] from hidden states `h` of the id input `ids`, as `pooling` reads them: the last
 * position, or the mean, maximum or attention-weighted sum over the real positions (attention: softmax over the
 * real positions of h · query, `query` [dim, 1]).
 */
export function pool(g: GraphBuilder, h: string, ids: string, pooling: Pooling, query: OnnxTensor | null, user: string): string {
  if (pooling === 'last') return g.node('Gather', [h, g.ints('last', [-1], true)], user, { axis: 1 });
  const { mask } = g.paddingMasks(ids);
  if (pooling === 'max') return g.node('ReduceMax', [g.node('Add', [h, paddingPenalty(g, mask, 'pool')], 'pool.masked')], user, { axes: [1], keepdims: 0 });
  const axis = g.ints('axis.1', [1]);
  if (pooling === 'mean') {
    const sum = g.node('ReduceSum', [g.node('Mul', [h, mask], 'pool.masked'), axis], 'pool.sum', { keepdims: 0 });
    return g.node('Div', [sum, g.node('ReduceSum', [mask, axis], 'pool.count', { keepdims: 0 })], user);
  }
  if (!query) throw new Error('internal: attention pooling without its query');
  // attention: e^-1e9 is exactly 0 in float, so padding gets no weight, as graftrec's softmax over real positions gives.
  const scores = g.node('Add', [g.node('MatMul', [h, g.constant('head.query', [...query.shape], query.data)], 'pool.scores.raw'),
    paddingPenalty(g, mask, 'pool')], 'pool.scores');
  const weights = g.node('Softmax', [scores], 'pool.weights', { axis: 1 });
  return g.node('ReduceSum', [g.node('Mul', [h, weights], 'pool.weighted'), axis], user, { keepdims: 0 });
}

/**
 * The head's item bag [batch, dim] of the history `ids`: Σ over its distinct items of bag[item] / √(distinct
 * items) (the binary, unit-norm bag of items). An item counts at its first occurrence: no equal id at an earlier
 * position.
 */
export function itemBagSum(g: GraphBuilder, ids: string, table: OnnxTensor): string {
  const { mask } = g.paddingMasks(ids);
  const { steps } = g.lengthSteps(ids);
  const same = g.node('Equal', [g.node('Unsqueeze', [ids, g.ints('axis.2', [2])], 'bag.at'),
    g.node('Unsqueeze', [ids, g.ints('axis.1', [1])], 'bag.other')], 'bag.same');
  const earlier = g.node('Less', [g.node('Unsqueeze', [steps, g.ints('axis.0', [0])], 'bag.s'),
    g.node('Unsqueeze', [steps, g.ints('axis.1', [1])], 'bag.t')], 'bag.earlier');
  const repeated = g.node('ReduceMax', [g.node('Cast', [g.node('And', [same, earlier], 'bag.repeat')], 'bag.repeat.f', { to: ONNX_FLOAT })],
    'bag.repeated', { axes: [2], keepdims: 1 });
  const first = g.node('Mul', [mask, g.node('Sub', [g.float('one.f', 1), repeated], 'bag.new')], 'bag.first');
  const count = g.node('ReduceSum', [first, g.ints('axis.1', [1])], 'bag.count', { keepdims: 1 });
  const norm = g.node('Sqrt', [g.node('Max', [count, g.float('one.f', 1)], 'bag.count.min1')], 'bag.norm');
  const rows = g.node('Gather', [g.constant('head.item_bag.weight', [...table.shape], table.data), ids], 'bag.rows', { axis: 0 });
  const weighted = g.node('Mul', [rows, g.node('Div', [first, norm], 'bag.weights')], 'bag.weighted');
  return g.node('ReduceSum', [weighted, g.ints('axis.1', [1])], 'bag', { keepdims: 0 });
}

/** The head's scores [batch, rows] = user · weightᵀ + bias, `weight` [rows, dim]. */
export function headScores(g: GraphBuilder, user: string, weight: Float32Array, bias: Float32Array, dim: number, name: string): string {
  const rows = bias.length;
  const transposed = new Float32Array(rows * dim);
  for (let c = 0; c < rows; c++) for (let k = 0; k < dim; k++) transposed[k * rows + c] = weight[c * dim + k]!;
  return g.node('Add', [g.node('MatMul', [user, g.constant('head.weight.t', [dim, rows], transposed)], 'head.matmul'),
    g.constant('head.bias', [rows], bias)], name);
}
