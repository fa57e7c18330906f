/**
 * A task's reading of the user on top of the network's hidden states [batch, length, dim]: its pooling over the
 * real positions, its item bag, and its head's scores over its rows (classes or target items).
 */
import { ONNX_FLOAT } from './onnx-proto.js';
import { GraphBuilder } from './onnx-graph.js';
import { OnnxTensor } from './onnx-patches.js';
import type { Pooling } from '../models/user-vectors.js';
import type { ItemPairSupport } from '../transfer/item-pairs.js';

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
 * The weight of each position of the history `ids` in its binary, unit-norm bag of items [batch, length, 1]:
 * 1/√(distinct items) at an item's first occurrence (no equal id at an earlier position), 0 elsewhere — the
 * weights graftrec's item bag and item-pair table read (baselines/bag-of-items.ts itemBagRows).
 */
export function bagWeights(g: GraphBuilder, ids: string): string {
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
  return g.node('Div', [first, norm], 'bag.weights');
}

/** Σ over the positions of `ids` of weights · table[id]: [batch, columns] for a table [input rows, columns] named `name`. */
export function bagSum(g: GraphBuilder, ids: string, weights: string, table: OnnxTensor, name: string): string {
  const rows = g.node('Gather', [g.constant(name, [...table.shape], table.data), ids], `${name}.rows`, { axis: 0 });
  return g.node('ReduceSum', [g.node('Mul', [rows, weights], `${name}.weighted`), g.ints('axis.1', [1])], `${name}.sum`, { keepdims: 0 });
}

/** The head's scores [batch, rows] = user · weightᵀ + bias, `weight` [rows, dim]. */
export function headScores(g: GraphBuilder, user: string, weight: Float32Array, bias: Float32Array, dim: number, name: string): string {
  const rows = bias.length;
  const transposed = new Float32Array(rows * dim);
  for (let c = 0; c < rows; c++) for (let k = 0; k < dim; k++) transposed[k * rows + c] = weight[c * dim + k]!;
  return g.node('Add', [g.node('MatMul', [user, g.constant('head.weight.t', [dim, rows], transposed)], 'head.matmul'),
    g.constant('head.bias', [rows], bias)], name);
}

/**
 * A recommend task's item-pair table as a dense [source rows, targets] table (0 where no pair exists), so that its
 * extra scores are a bag sum like the item bag's: Σ over the distinct source items s of w · W[s, t].
 */
export function denseItemPairs(support: ItemPairSupport, weight: Float32Array, targets: number): OnnxTensor {
  const { indptr } = support;
  const sources = indptr.length - 1;
  const data = new Float32Array(sources * targets);
  for (let s = 0; s < sources; s++) {
    for (let p = indptr[s]!; p < indptr[s + 1]!; p++) data[s * targets + support.targets[p]!] = weight[p]!;
  }
  return { shape: [sources, targets], data };
}
