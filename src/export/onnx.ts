/**
 * A user encoder as an ONNX graph (opset 17, standard operators only):
 *
 *   items int64 [batch, length], left-padded with 0  →  hidden states [batch, length, dim]
 *     →  the hidden state at the last position: user float [batch, dim]
 *
 * A masked-objective model (BERT4Rec, masked NextItNet) reads the next item at a mask token after the history,
 * as graftrec does (UserEncoder.userVectors): the graph appends it, so its input is the same history.
 * Each backbone's graph is in its own file (onnx-nextitnet.ts, onnx-transformer.ts, onnx-gru.ts); dropout is
 * off, as in graftrec's evaluation.
 *
 * With a task (`graftrec finetune`): its patches where its insertion puts them, its pooling and item bag for
 * `user`, and its head's scores as a second output — a classify task's softmax, `probabilities` [batch, classes],
 * or a recommend task's target-item scores, `scores` [batch, targets], with its item-pair table's terms added
 * (onnx-reading.ts).
 */
import { ModelError } from '../errors.js';
import { ONNX_FLOAT, ONNX_INT64, OnnxGraph, OnnxValueInfo, encodeOnnxModel } from './onnx-proto.js';
import { GraphBuilder } from './onnx-graph.js';
import { GraphPatches, OnnxTensor } from './onnx-patches.js';
import { nextItNetHidden } from './onnx-nextitnet.js';
import { bert4recHidden, sasrecHidden } from './onnx-transformer.js';
import { gru4recHidden } from './onnx-gru.js';
import { bagSum, bagWeights, denseItemPairs, headScores, pool } from './onnx-reading.js';
import { UserEncoder } from '../models/encoder.js';
import { BERT4Rec } from '../models/bert4rec.js';
import { GRU4Rec } from '../models/gru4rec.js';
import { NextItNet } from '../models/nextitnet.js';
import { SASRec } from '../models/sasrec.js';
import type { Pooling } from '../models/user-vectors.js';
import type { PatchInsertion } from '../transfer/insertion.js';
import type { ItemPairSupport } from '../transfer/item-pairs.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

/**
 * The most entries of an item-pair table written dense (256 MiB of floats): far below protobuf's 2 GiB message
 * limit, which the whole model must fit in.
 */
export const MAX_DENSE_ITEM_PAIRS = 2 ** 26;

/** Why `model` cannot be exported (null when it can). */
export function onnxExportBlocker(model: UserEncoder): string | null {
  if (model.config.itemEncoder !== 'id') {
    return `a ${model.backbone} model with the ${model.config.itemEncoder} item encoder is not yet exportable to ONNX (only id)`;
  }
  return null;
}

/**
 * A task on the model, as `graftrec finetune` saved it: its patches, where they sit, how the head reads the user,
 * and the head. The model passed with it must be the task's view of the base (backbone tensors the task trained
 * replaced).
 */
export interface OnnxTask {
  type: 'classify' | 'recommend';
  insertion: PatchInsertion | null;
  /** By parameter name, `patch.<block>.<sublayer>.{down,up}.{weight,bias}`. */
  patches: ReadonlyMap<string, OnnxTensor>;
  pooling: Pooling;
  /** Attention pooling's query [dim, 1]; null for other poolings. */
  query: OnnxTensor | null;
  /** The head's item-bag table [input rows, dim]; null when the task has no item bag. */
  itemBag: OnnxTensor | null;
  /** The head's rows: class names (classify) or target item ids (recommend). */
  rows: readonly string[];
  /** [rows, dim] and [rows]. */
  headWeight: Float32Array;
  headBias: Float32Array;
  /** A recommend task's item-to-item table, added to its scores (transfer/item-pairs.ts); null without one. */
  itemPairs: { support: ItemPairSupport; weight: Float32Array } | null;
}

/**
 * Why `task` cannot be exported (null when it can). Its windows need nothing: the graph's input is at most one
 * window (max-len items), which every windows setting reads alike.
 */
export function onnxTaskBlocker(task: OnnxTask): string | null {
  const pairs = task.itemPairs;
  if (pairs && (pairs.support.indptr.length - 1) * task.rows.length > MAX_DENSE_ITEM_PAIRS) {
    return `an item-pair table of ${pairs.support.indptr.length - 1} source rows × ${task.rows.length} target items is not yet exportable to ONNX `
      + `(it is written dense, at most ${MAX_DENSE_ITEM_PAIRS} entries)`;
  }
  return null;
}

/** The most items the graph's input takes: max-len, less the mask token's position for a masked-objective model. */
function inputRoom(model: UserEncoder): number {
  return model.config.objective === 'masked' ? model.config.maxLen - 1 : model.config.maxLen;
}

/** The network's id input: the history, followed by the mask token for a masked-objective model. */
function networkInput(g: GraphBuilder, model: UserEncoder): string {
  if (model.config.objective !== 'masked') return 'items';
  const batch = g.node('Slice', [g.node('Shape', ['items'], 'items.shape.all'), g.ints('axis.0', [0]), g.ints('one.1d', [1])], 'batch');
  const column = g.node('Expand', [g.constant('mask_token', [1, 1], BigInt64Array.of(BigInt(model.maskToken))),
    g.node('Concat', [batch, g.ints('one.1d', [1])], 'mask_column.shape', { axis: 0 })], 'mask_column');
  return g.node('Concat', ['items', column], 'items.masked', { axis: 1 });
}

function hidden(g: GraphBuilder, model: UserEncoder, ids: string, p: GraphPatches): string {
  if (model instanceof NextItNet) return nextItNetHidden(g, model, ids, p);
  if (model instanceof SASRec) return sasrecHidden(g, model, ids, p);
  if (model instanceof BERT4Rec) return bert4recHidden(g, model, ids, p);
  if (model instanceof GRU4Rec) return gru4recHidden(g, model, ids);
  throw new ModelError(`a ${model.backbone} model is not yet exportable to ONNX`);
}

/**
 * The graph of `model`'s user encoder (output `user`, the last position), or with `task` of the task's reading
 * (output `user`, pooled as the task reads it) and its head (output `probabilities` or `scores`).
 */
export function userEncoderOnnxGraph(model: UserEncoder, task: OnnxTask | null = null): OnnxGraph {
  const blocker = onnxExportBlocker(model) ?? (task && onnxTaskBlocker(task));
  if (blocker) throw new ModelError(blocker);
  const g = new GraphBuilder();
  const ids = networkInput(g, model);
  const h = hidden(g, model, ids, new GraphPatches(g, model, task?.insertion ?? null, task?.patches ?? new Map()));
  const { dim } = model.config;
  const bag = task?.itemBag ?? null;
  const pooled = pool(g, h, ids, task?.pooling ?? 'last', task?.query ?? null, bag ? 'user.network' : 'user');
  // The bag and the item pairs read the history itself, never the mask token.
  const weights = bag || task?.itemPairs ? bagWeights(g, 'items') : '';
  if (bag) g.node('Add', [pooled, bagSum(g, 'items', weights, bag, 'head.item_bag.weight')], 'user');
  const outputs: OnnxValueInfo[] = [{ name: 'user', elemType: ONNX_FLOAT, shape: ['batch', dim] }];
  if (task?.type === 'classify') {
    g.node('Softmax', [headScores(g, 'user', task.headWeight, task.headBias, dim, 'logits')], 'probabilities', { axis: -1 });
    outputs.push({ name: 'probabilities', elemType: ONNX_FLOAT, shape: ['batch', task.rows.length] });
  } else if (task) {
    const pairs = task.itemPairs;
    const userScores = headScores(g, 'user', task.headWeight, task.headBias, dim, pairs ? 'scores.user' : 'scores');
    if (pairs) {
      const table = denseItemPairs(pairs.support, pairs.weight, task.rows.length);
      g.node('Add', [userScores, bagSum(g, 'items', weights, table, 'head.item_pairs')], 'scores');
    }
    outputs.push({ name: 'scores', elemType: ONNX_FLOAT, shape: ['batch', task.rows.length] });
  }
  return {
    name: `graftrec_${model.backbone}_user_encoder`,
    doc: `items: item ids [batch, length] (1-based in the model's items.json order; 0 = left padding; at most ${inputRoom(model)} items). `
      + (task ? `user: the user vector the task reads (${task.pooling} pooling${bag ? ' plus the item bag' : ''}) [batch, dim]; `
        + (task.type === 'classify' ? `probabilities: the classes ${JSON.stringify(task.rows)} [batch, classes].`
          : 'scores: one per target item, in the order of the metadata\'s target_items [batch, targets].')
        : 'user: the hidden state at the last position [batch, dim].'),
    inputs: [{ name: 'items', elemType: ONNX_INT64, shape: ['batch', 'length'] }],
    outputs,
    nodes: g.nodes,
    initializers: g.initializers,
  };
}

/** The serialised ONNX model of `model`'s user encoder (with `task`: of the task's reading and its head). */
export function exportOnnx(model: UserEncoder, producerVersion: string, metadata: Record<string, string> = {},
  task: OnnxTask | null = null): Uint8Array {
  return encodeOnnxModel(userEncoderOnnxGraph(model, task), {
    irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion,
    metadata: { ...metadata, backbone: model.backbone, dim: String(model.config.dim), max_len: String(model.config.maxLen), max_items: String(inputRoom(model)) },
  });
}
