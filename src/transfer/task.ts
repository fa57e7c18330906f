/**
 * What every transfer task shares: graft patches (if the strategy uses them), add a new head, freeze what the
 * strategy freezes, train on users with early stopping on a validation score, restore the best weights, and
 * account for trained / total parameters and the patch size. The tasks (classify.ts, recommend.ts, next-item.ts)
 * supply the examples, the loss and the validation score.
 *
 * Data-parallel (a communicator given): every rank shuffles the same order from the same seed, so all see the same
 * global batches; each trains on its contiguous shard of a batch (shardRows), its loss scaled by its share of what
 * the batch's loss is a mean over (TaskLoss.batchCount), and the gradients of every trained tensor are summed
 * across ranks before the optimizers step, so every rank takes the steps one process with that batch would.
 * Validation runs on every rank alike: the same weights give the same score and the same early-stopping decision.
 */
import { encodeSafetensors } from '../io/safetensors.js';
import { BatchShard, UserEncoder } from '../models/encoder.js';
import { inputRows } from '../models/input-rows.js';
import { Backbone, TRANSFER_DEFAULTS } from '../config/schema.js';
import { UserReading } from '../models/user-vectors.js';
import { Communicator, shardRows } from '../distributed/communicator.js';
import { exchangeGradients, shareGradientBuffers } from '../distributed/gradients.js';
import { Adam, Parameter, Rng, backward, noteParameterWrite, scale, scratchScope } from '../tensor/index.js';
import { PreparedLoss, hasLoss, shareOfBatch } from '../train/objectives.js';
import { Progress } from '../train/progress.js';
import { ValidationFold } from '../data/split.js';
import { TaskHead, patchTensors, taskHead } from './head.js';
import { ItemPairStart, ItemPairSupport } from './item-pairs.js';
import { PatchInsertion, graftPatches } from './insertion.js';
import { Module } from '../nn/module.js';
import { Strategy, applyStrategy, strategyUsesPatches } from './strategies.js';

/** How a task adapts the network: shared by every task type. */
export interface TransferOptions {
  /** The network to adapt: the pretrained model (loaded fresh for this run), or a random one for peter-zero. */
  model: UserEncoder;
  strategy: Strategy;
  /** Where patches go (patched strategies only); null where the backbone takes none. */
  insertion: PatchInsertion | null;
  patchDim?: number;
  zeroInitUp?: boolean;
  /** How the task reads a user out of the network (windows, pooling). */
  reading: UserReading;
  epochs: number;
  batch: number;
  lr: number;
  /** AdamW weight decay on the trained weight matrices (not on biases, LayerNorms or the attention query). */
  weightDecay: number;
  /** Dropout on the user vector during training. */
  dropout: number;
  /** Linear warm-up over this share of the maximum number of steps, then linear decay to 0 at the last one. */
  warmup: number;
  patience: number;
  testFraction: number;
  /** Share of the training and validation users whose labels are used (fewer labels; test users unchanged). */
  labelFraction: number;
  /** Which of the non-test users validate (default: the first of ten folds; the experiment's --folds rotates it). */
  fold?: ValidationFold;
  seed: number;
  /** Per-epoch progress (batches, loss, examples/s); none by default. */
  progress?: Progress;
  /** Continual learning (continual/): what trains beside the strategy's choice, and how frozen entries stay put. */
  continual?: ContinualTraining;
  /** Data-parallel training over this job's ranks (see the file comment); absent: one process. */
  communicator?: Communicator;
}

/**
 * A task learned into one shared network (Conure): `trainable` are the parameters whose free entries this task
 * may change (and its own LayerNorms), `afterStep` puts every entry the task may not change back after each
 * optimizer step (weight decay and Adam's moments would move them otherwise), and `head` continues a head
 * trained before (the retraining after pruning) instead of starting a new one.
 */
export interface ContinualTraining {
  trainable: Parameter[];
  afterStep: () => void;
  head?: TaskHead;
}

/** The regularisation and reading defaults (from the config schema) in TransferOptions' shape. */
export const TUNING_DEFAULTS: Pick<TransferOptions, 'reading' | 'weightDecay' | 'dropout' | 'warmup' | 'labelFraction'> = {
  reading: { pooling: TRANSFER_DEFAULTS.pooling, windows: TRANSFER_DEFAULTS.windows, itemBag: TRANSFER_DEFAULTS.itemBag },
  weightDecay: TRANSFER_DEFAULTS.weightDecay,
  dropout: TRANSFER_DEFAULTS.dropout,
  warmup: TRANSFER_DEFAULTS.warmup,
  labelFraction: TRANSFER_DEFAULTS.labelFraction,
};

/** A task's new head: the rows it scores (classes, target items), and for cross-domain tasks an item-pair table. */
export interface HeadShape {
  rows: number;
  rowSparse?: boolean;
  itemPairs?: { support: ItemPairSupport; start: ItemPairStart } | null;
}

/** What every task reports besides its own test metrics. */
export interface TransferAccounting<H extends TaskHead | null = TaskHead> {
  /** The backbone the task was trained on (a patch only loads onto the same). */
  backbone: Backbone;
  strategy: Strategy;
  insertion: PatchInsertion | null;
  trainedParams: number;
  totalParams: number;
  patchBytes: number;
  epochs: number;
  /** The epoch whose weights were kept (0: the starting point, when no epoch of training beat it on validation). */
  bestEpoch: number;
  /** The task's validation score at the kept epoch (higher is better: −log-loss, or NDCG@10). */
  validationScore: number;
  trainSeconds: number;
  /** Each epoch's training loss: the mean over its batches of the batch's mean loss. */
  trainLosses: number[];
  /** Each epoch's validation score (the starting point's is not among them). */
  validationScores: number[];
  /** The trained tensors (what a patch file stores). */
  trained: Parameter[];
  patches: Module[];
  /** The task's head; null for a task that scores through the network's own softmax (next-item on a new platform). */
  head: H;
}


/** The weight matrices of the trained set: what weight decay shrinks. */
function decayed(p: Parameter): boolean {
  return p.shape.length >= 2 && p.name.endsWith('weight');
}

/** Learning rate at `step` (0-based) of `total`: linear warm-up, then linear decay towards 0. */
export function scheduledLr(lr: number, step: number, total: number, warmup: number): number {
  const warm = Math.max(1, Math.round(warmup * total));
  if (step < warm) return (lr * (step + 1)) / warm;
  return lr * Math.max(0.05, (total - step) / Math.max(1, total - warm));
}

/**
 * A batch's loss, its random draws made (dropout masks, negatives) and its graph built on demand: what it is a
 * mean over here (users, (user, target) pairs or predicted positions) and, on a shard, over the whole batch.
 */
export type TaskLoss = Pick<PreparedLoss, 'count' | 'batchCount' | 'loss'>;

export interface TaskTraining {
  /** Example indices trained on; shuffled each epoch and cut into batches. */
  examples: number;
  /**
   * The loss of a batch of example indices. `rows`: only the rows [start, end) of the batch are trained on here
   * (a shard), but every random draw is made for the whole batch, as one process would make it, so the ranks'
   * streams stay in step; loss() is then the mean over the shard (not called when the shard is empty).
   */
  loss: (batch: Int32Array, rows?: BatchShard) => TaskLoss;
  /** Validation score after an epoch: higher is better; the best epoch's weights are kept. */
  validate: () => number;
  /** Sets the head's starting point before it is scored and trained (e.g. from counts, chosen on validation). */
  prepare?: () => void;
}

/**
 * Grafts the patches and head, applies the strategy and trains with early stopping. Returns everything but the
 * test metrics, which the task computes on the model as left (at its best validation epoch). Without a head
 * (headShape null) the task trains the network through its own softmax; `extraTrainable` then names what else
 * trains beside the strategy's choice (a separate output table).
 */
export function trainTransfer(o: TransferOptions, headShape: HeadShape, task: (head: TaskHead, rng: Rng) => TaskTraining): TransferAccounting;
export function trainTransfer(o: TransferOptions, headShape: null, task: (head: null, rng: Rng) => TaskTraining,
  extraTrainable?: Parameter[]): TransferAccounting<null>;
export function trainTransfer(o: TransferOptions, headShape: HeadShape | null, task: (head: never, rng: Rng) => TaskTraining,
  extraTrainable: Parameter[] = []): TransferAccounting<TaskHead | null> {
  if (!(Number.isFinite(o.lr) && o.lr > 0)) throw new RangeError(`learning rate must be a positive number, got ${o.lr}`);
  const started = process.hrtime.bigint();
  const rng = new Rng(o.seed);
  const { model } = o;
  const patches = strategyUsesPatches(o.strategy)
    ? graftPatches(model, o.insertion, rng, { bottleneck: o.patchDim, zeroInitUp: o.zeroInitUp })
    : [];
  const head = headShape && (o.continual?.head ?? taskHead(headShape.rows, model.config.dim, rng, {
    rowSparse: headShape.rowSparse ?? false, reading: o.reading, inputRows: inputRows(model.config), itemPairs: headShape.itemPairs,
  }));
  const trained = applyStrategy(o.strategy, model, patches, [...head?.parameters() ?? [], ...extraTrainable, ...o.continual?.trainable ?? []]);
  const sparseTables = head?.sparseTables() ?? [];
  const rest = trained.filter((p) => !sparseTables.some(([table]) => table === p));
  // Each optimizer with the multiple of the scheduled learning rate it steps with.
  const comm = o.communicator ?? null;
  const optimizers: [Adam, number][] = [
    [new Adam(rest.filter(decayed), { lr: o.lr, weightDecay: o.weightDecay, decoupled: true }), 1],
    [new Adam(rest.filter((p) => !decayed(p)), { lr: o.lr }), 1],
    ...sparseTables.map(([table, scale]) => [new Adam([table], { lr: o.lr, weightDecay: o.weightDecay, decoupled: true }), scale] as [Adam, number]),
  ];
  const { examples, loss, validate, prepare } = task(head as never, rng);
  const totalSteps = o.epochs * Math.ceil(examples / o.batch);
  let step = 0;

  // The starting point is scored too: a head that starts from counts (the item-pair table) may already be better
  // than what training makes of it, and then the task keeps it (bestEpoch 0).
  if (!o.continual?.head) prepare?.(); // a continued head keeps the start it already has
  let best = validate();
  let bestEpoch = 0;
  let bestValues = trained.map((p) => Float32Array.from(p.data));
  let stale = 0;
  let epochs = 0;
  const trainLosses: number[] = [];
  const validationScores: number[] = [];
  const order = Int32Array.from({ length: examples }, (_, i) => i);
  const batches = Math.ceil(examples / o.batch);
  for (let epoch = 1; epoch <= o.epochs && stale < o.patience; epoch++) {
    rng.shuffle(order);
    o.progress?.start(`epoch ${epoch}/${o.epochs}`, batches);
    const epochStarted = process.hrtime.bigint();
    let lossSum = 0;
    for (let start = 0, b = 0; start < order.length; start += o.batch, b++) {
      // Every tensor of the step dies with it, so the next step reuses their memory (see scratchScope).
      const lr = scheduledLr(o.lr, step++, totalSteps, o.warmup);
      const batch = order.subarray(start, start + o.batch);
      const rows = comm ? shardRows(batch.length, comm.rank, comm.size) : undefined;
      // Backbone dropout (sasrec, bert4rec, gru4rec): data-parallel ranks draw from disjoint call streams. Unlike
      // pretraining's, a task's network rows are the users' windows (a whole history is several), whose padded
      // length is the shard's own, so a rank's masks cannot be cut out of the whole batch's; the head's can (see
      // TaskTraining.loss).
      if (comm) model.startTrainingStep((step - 1) * comm.size + comm.rank);
      scratchScope(() => {
        const prepared = loss(batch, rows);
        const share = shareOfBatch(prepared);
        let value = 0;
        if (hasLoss(prepared)) {
          const l = prepared.loss();
          value = l.item() * share;
          backward(share === 1 ? l : scale(l, share));
        }
        if (comm) {
          shareGradientBuffers(comm, trained);
          value = exchangeGradients(comm, trained, [value]).scalars[0]!;
        }
        lossSum += value;
        for (const [optimizer, multiple] of optimizers) {
          optimizer.lr = lr * multiple;
          optimizer.step();
        }
        o.continual?.afterStep();
      });
      if (o.progress) {
        const seconds = Number(process.hrtime.bigint() - epochStarted) / 1e9;
        o.progress.update(b + 1, { loss: lossSum / (b + 1), itemsPerSec: Math.min(order.length, start + o.batch) / Math.max(seconds, 1e-9) });
      }
    }
    o.progress?.stop();
    epochs = epoch;
    trainLosses.push(lossSum / batches);
    const score = validate();
    validationScores.push(score);
    if (score > best) {
      best = score;
      bestEpoch = epoch;
      bestValues = trained.map((p) => Float32Array.from(p.data));
      stale = 0;
    } else {
      stale++;
    }
  }
  trained.forEach((p, i) => p.data.set(bestValues[i]!));
  noteParameterWrite(); // values derived from parameters without a graph (an encoded item table) are stale now

  // The pretraining softmax (output table) is not part of a task network with a head of its own.
  const used = [...model.parameters().filter((p) => !head || !p.name.startsWith('output.')), ...patches.flatMap((p) => p.parameters()),
    ...head?.parameters() ?? []];
  return {
    backbone: model.backbone,
    strategy: o.strategy,
    insertion: strategyUsesPatches(o.strategy) ? o.insertion : null,
    trainedParams: trained.reduce((n, p) => n + p.size, 0),
    totalParams: used.reduce((n, p) => n + p.size, 0),
    patchBytes: encodeSafetensors(patchTensors(trained, head)).length,
    epochs,
    bestEpoch,
    validationScore: best,
    trainSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    trainLosses,
    validationScores,
    trained,
    patches,
    head,
  };
}
