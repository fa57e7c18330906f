/**
 * Training-step benchmark: exactly the step training runs (forward, softmax loss, backward, Adam). Without a
 * dataset it times random full-length sequences on a synthetic vocabulary; with `data` it times real batches the
 * way pretraining makes them (leave-one-out training part, windows, length-bucketed batches each padded to its own
 * longest window, the dataset's vocabulary). Prints sequences/s, real items/s (predicted positions per second),
 * the share of batch positions that are padding, ms per step and peak RSS.
 *
 * With a communicator (`mpirun -np N graftrec bench train --distributed`), every rank draws the same global batches
 * and trains on its shard, as distributed pretraining does; rank 0 prints the global throughput, the bytes each
 * rank sent per step, the time spent waiting for the slowest rank and the time the gradient exchange took.
 */
import { epochBatches } from '../src/data/batch-plan.js';
import { loadDataset } from '../src/data/dataset.js';
import { itemCounts, leaveOneOutSplit } from '../src/data/split.js';
import { ItemEncoderKind } from '../src/config/schema.js';
import { DataError } from '../src/errors.js';
import { createEncoder } from '../src/models/encoders.js';
import { ItemTokens } from '../src/models/item-encoder.js';
import { Communicator, shardRows } from '../src/distributed/communicator.js';
import { exchangeGradients } from '../src/distributed/gradients.js';
import { Adam, Parameter, Rng, backend } from '../src/tensor/index.js';
import { NegativeSampler } from '../src/train/sampler.js';
import { countTargets, objectiveWindows, sequenceBatch, sequenceLoss } from '../src/train/objectives.js';
import { trainingStep } from '../src/train/step.js';
import { ModelShapeOptions, benchModelConfig } from './model-shape.js';
import { Emit, round } from './timing.js';

export interface TrainBenchOptions extends ModelShapeOptions {
  items: number;
  batch: number;
  negatives: number;
  steps: number;
  warmup: number;
  seed: number;
  /** A dataset directory: time real batches instead of random full-length ones (items is then its vocabulary). */
  data?: string;
  batchTokens: number;
  lengthBuckets: boolean;
  /** Where item vectors come from (text needs `data` with item text). Default id. */
  itemEncoder?: ItemEncoderKind;
}

/** Where the timed steps' windows come from, and the vocabulary they index. */
interface WindowSource {
  numItems: number;
  /** Item counts for the sampled softmax's proposal (index 0 = padding). */
  counts: Float64Array;
  /** The items' text tokens and tokenizer buckets, when the dataset has item text. */
  itemText: { tokens: ItemTokens; buckets: number } | null;
  next(rng: Rng): Int32Array[];
}

function randomWindows(options: TrainBenchOptions): WindowSource {
  return {
    numItems: options.items,
    counts: new Float64Array(options.items + 1).fill(1),
    itemText: null,
    next: (rng) => Array.from({ length: options.batch },
      () => Int32Array.from({ length: options.maxLen + 1 }, () => rng.int(1, options.items + 1))),
  };
}

/** The batches of pretraining epochs on the dataset, in order (a new epoch's plan when one runs out). */
async function datasetWindows(dir: string, options: TrainBenchOptions, objective: 'causal' | 'masked'): Promise<WindowSource> {
  const ds = await loadDataset(dir);
  const split = leaveOneOutSplit(ds);
  const { windows, lengths } = objectiveWindows(split.train, objective, options.maxLen);
  const plan = { batch: options.batch, tokens: options.batchTokens, lengthBuckets: options.lengthBuckets };
  let batches: Int32Array[] = [];
  return {
    numItems: ds.meta.numItems,
    counts: itemCounts(split.train, ds.meta.numItems),
    itemText: ds.itemText && ds.meta.itemText ? { tokens: ds.itemText.tokens, buckets: ds.meta.itemText.tokenizer.buckets } : null,
    next: (rng) => {
      if (batches.length === 0) batches = epochBatches(lengths, plan, rng).reverse();
      return Array.from(batches.pop()!, (i) => windows[i]!);
    },
  };
}

export async function runTrainBench(options: TrainBenchOptions, emit: Emit, comm: Communicator | null = null): Promise<void> {
  // Batches (and negatives, dropout) from a stream of their own: models of any size and item encoder see the
  // same batches at the same seed, so their step times compare like for like.
  const rng = new Rng(options.seed + 0x9e3779b9);
  // The objective is the backbone's; the vocabulary size does not change it.
  const objective = benchModelConfig(options, 1).objective;
  const source = options.data ? await datasetWindows(options.data, options, objective) : randomWindows(options);
  const itemEncoder = options.itemEncoder ?? 'id';
  if (itemEncoder !== 'id' && !source.itemText) {
    throw new DataError(`bench train --item-encoder ${itemEncoder} needs --data with item text (ingest --item-text)`);
  }
  const config = benchModelConfig(options, source.numItems,
    itemEncoder === 'id' ? {} : { itemEncoder, textBuckets: source.itemText!.buckets });
  const model = createEncoder(config, new Rng(options.seed), itemEncoder === 'id' ? null : source.itemText!.tokens);
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const sampler = options.negatives > 0 ? new NegativeSampler(source.counts) : null;
  const softmax = { negatives: options.negatives, sampler };
  const makeBatch = () => sequenceBatch(model, source.next(rng), rng);
  let waitNs = 0n;
  let exchangeNs = 0n;
  let bytesSent = 0;
  const exchange = comm ? (params: readonly Parameter[], scalars: number[]) => {
    // A barrier first separates waiting for the slowest rank (imbalance, shared cores) from the exchange itself.
    const t0 = process.hrtime.bigint();
    comm.barrier();
    const t1 = process.hrtime.bigint();
    const r = exchangeGradients(comm, params, scalars);
    waitNs += t1 - t0;
    exchangeNs += process.hrtime.bigint() - t1;
    bytesSent += r.bytesSent;
    return r.scalars;
  } : undefined;
  const prepare = (batch: ReturnType<typeof makeBatch>) =>
    [sequenceLoss(model, batch, softmax, rng, 1, comm ? shardRows(batch.size, comm.rank, comm.size) : undefined)];
  const step = () => trainingStep(prepare(makeBatch()), optimizer, { clipNorm: 0, exchange });
  for (let i = 0; i < options.warmup; i++) step();
  waitNs = 0n;
  exchangeNs = 0n;
  bytesSent = 0;
  comm?.barrier();
  let stepNs = 0n;
  let cpuMicros = 0;
  let sequences = 0, targets = 0, positions = 0;
  for (let i = 0; i < options.steps; i++) {
    // batch assembly (and drawing negatives) is data loading, not the step: keep it out of the timing
    const batch = makeBatch();
    const losses = prepare(batch);
    sequences += batch.size;
    targets += countTargets(batch);
    positions += batch.size * batch.length;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    trainingStep(losses, optimizer, { clipNorm: 0, exchange });
    const cpu = process.cpuUsage(cpu0);
    cpuMicros += cpu.user + cpu.system;
    stepNs += process.hrtime.bigint() - t0;
  }
  if (comm && comm.rank !== 0) return;
  const seconds = Number(stepNs) / 1e9;
  const { data, ...shape } = options;
  emit({
    bench: 'train', ...shape, backbone: config.backbone, itemEncoder, dim: config.dim, ...(data ? { data, items: source.numItems } : {}),
    threads: backend().info().threads, gemmBackend: backend().info().gemmBackend,
    seqPerSec: round(sequences / seconds, 1),
    realItemsPerSec: round(targets / seconds, 1),
    paddingShare: round(1 - targets / positions, 4),
    msPerStep: round((seconds * 1000) / options.steps, 2),
    // This process's CPU time (all its threads): on a machine shared with other work, the cost wall time hides.
    cpuMsPerStep: round(cpuMicros / 1000 / options.steps, 2),
    ...(comm ? {
      ranks: comm.size,
      waitMsPerStep: round(Number(waitNs) / 1e6 / options.steps, 2),
      exchangeMsPerStep: round(Number(exchangeNs) / 1e6 / options.steps, 2),
      bytesSentPerStep: Math.round(bytesSent / options.steps),
    } : {}),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  });
}
