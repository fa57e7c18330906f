import { Command } from 'commander';
import { runIngestBench } from '../../bench/ingest.js';
import { runKernelBench } from '../../bench/kernels.js';
import { ServeBenchOptions, runServeBench } from '../../bench/serve.js';
import { ItemTextsBenchOptions, runItemTextsBench } from '../../bench/item-texts.js';
import { FinetuneBenchOptions, runFinetuneBench } from '../../bench/finetune.js';
import { TrainBenchOptions, runTrainBench } from '../../bench/train.js';
import { BACKBONES, DEFAULT_DIM, DEFAULT_DROPOUT, DEFAULT_HEADS, DEFAULT_LAYERS, ITEM_ENCODERS, MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../config/schema.js';
import { withCommunicator } from './distributed.js';
import { choiceOption, integerOption, numberOption } from './options.js';
import { backend } from '../tensor/index.js';

/** Prints one record per line: JSON with --json, else key=value pairs. */
function printer(json: boolean | undefined): (r: Record<string, unknown>) => void {
  return json
    ? (r) => console.log(JSON.stringify(r))
    : (r) => console.log(Object.entries(r).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join('  '));
}

/** Model and batch shape of the step benchmarks (random data, so only sizes matter). */
function withModelShapeOptions(command: Command, defaultBatch: number): Command {
  return command
    .option('--items <n>', 'vocabulary size', integerOption('items'), 100_000)
    .option('--backbone <name>', `${BACKBONES.join(', ')} (default ${MODEL_DEFAULTS.backbone})`, choiceOption('backbone', BACKBONES))
    .option('--dim <n>', `channels (default ${BACKBONES.map((b) => `${b} ${DEFAULT_DIM[b]}`).join(', ')})`, integerOption('dim'))
    .option('--blocks <n>', 'nextitnet: residual blocks', integerOption('blocks'), MODEL_DEFAULTS.blocks)
    .option('--layers <n>', `sasrec, bert4rec: transformer layers; gru4rec: GRU layers (default ${(['sasrec', 'bert4rec', 'gru4rec'] as const).map((b) => `${b} ${DEFAULT_LAYERS[b]}`).join(', ')})`, integerOption('layers'))
    .option('--heads <n>', `sasrec, bert4rec: attention heads, must divide the dim (default ${(['sasrec', 'bert4rec'] as const).map((b) => `${b} ${DEFAULT_HEADS[b]}`).join(', ')})`, integerOption('heads'))
    .option('--dropout <p>', `sasrec, bert4rec, gru4rec: dropout rate in [0, 1) (default ${(['sasrec', 'bert4rec', 'gru4rec'] as const).map((b) => `${b} ${DEFAULT_DROPOUT[b]}`).join(', ')})`, numberOption('dropout', { min: 0, max: 1, exclusiveMax: true }))
    .option('--batch <n>', 'sequences per step', integerOption('batch'), defaultBatch)
    .option('--max-len <n>', 'sequence length', integerOption('max-len', 2), MODEL_DEFAULTS.maxLen);
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('Benchmarks that print one JSON object per measurement');
  bench
    .command('kernels')
    .description('GEMM GFLOP/s per backend, N-API call cost, residual block forward/backward time')
    .option('--json', 'print one JSON object per line (default: a readable table)')
    .option('--threads <n>', 'kernel threads (default: GRAFTREC_THREADS or all cores)', integerOption('threads'))
    .option('--seconds <s>', 'minimum timing per measurement', numberOption('seconds', { min: 0, exclusiveMin: true }), 0.5)
    .action((opts: { json?: boolean; threads?: number; seconds: number }) => {
      if (opts.threads) backend().setThreads(opts.threads);
      runKernelBench(printer(opts.json), { minSeconds: opts.seconds });
    });
  bench
    .command('ingest')
    .description('ingest a synthetic user,item,timestamp CSV (written to and removed from a temp dir); interactions per second')
    .option('--json', 'print one JSON object (default: key=value)')
    .option('--interactions <n>', 'rows in the synthetic log', integerOption('interactions', 2), 10_000_000)
    .action(async (opts: { json?: boolean; interactions: number }) => {
      await runIngestBench(
        printer(opts.json),
        { interactions: opts.interactions },
      );
    });
  withModelShapeOptions(bench
    .command('train')
    .description('one optimizer step of training (forward, loss, backward, Adam) on random full-length sequences, or with --data on real batches as pretraining makes them: seq/s, real items/s, padding share, ms/step, peak RSS'),
  TRAIN_DEFAULTS.batch)
    .option('--data <dir>', 'time real batches of this dataset (from `graftrec ingest`); --items is then its vocabulary')
    .option('--batch-tokens <n>', 'with --data: padded positions per batch instead of --batch sequences (0 = off)', integerOption('batch-tokens', 0), TRAIN_DEFAULTS.batchTokens)
    .option('--length-buckets', 'with --data: batches of sequences of similar length (as pretrain --length-buckets)', TRAIN_DEFAULTS.lengthBuckets)
    .option('--no-length-buckets', 'with --data: random batches')
    .option('--negatives <n>', '0 = full softmax, N = sampled softmax', integerOption('negatives', 0), 100)
    .option('--item-encoder <kind>', `where item vectors come from: ${ITEM_ENCODERS.join(', ')} (text needs --data ingested with --item-text)`, choiceOption('item-encoder', ITEM_ENCODERS), MODEL_DEFAULTS.itemEncoder)
    .option('--steps <n>', 'timed steps', integerOption('steps'), 20)
    .option('--warmup <n>', 'untimed steps first', integerOption('warmup', 0), 3)
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print one JSON object')
    .option('--distributed', 'under `mpirun -np N`: each rank steps on its share of every --batch, gradients exchanged as distributed pretraining does; adds ranks, bytes sent per step and the exchange\'s ms per step')
    .action(async (opts: TrainBenchOptions & { threads?: number; json?: boolean; distributed?: boolean }) => {
      const { json, threads, distributed, ...benchOptions } = opts;
      if (threads) backend().setThreads(threads);
      await withCommunicator(distributed, (comm) => runTrainBench(benchOptions, printer(json), comm));
    });
  withModelShapeOptions(bench
    .command('finetune')
    .description('one classification fine-tuning step per strategy (peterrec, fine-all, …) on random sequences: ms/step'),
  64)
    .option('--classes <n>', 'classes of the head', integerOption('classes', 2), 2)
    .option('--seconds <s>', 'minimum timing per strategy', numberOption('seconds', { min: 0, exclusiveMin: true }), 2)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print one JSON object per line')
    .action((opts: FinetuneBenchOptions & { threads?: number; json?: boolean }) => {
      const { json, threads, ...benchOptions } = opts;
      if (threads) backend().setThreads(threads);
      runFinetuneBench(benchOptions, printer(json));
    });
  bench
    .command('serve')
    .description('a graftrec serve process (random-weight default-shape base + one patch) under autocannon on loopback: low-load latency, throughput with and without micro-batching, soak')
    .option('--items <n>', 'vocabulary size of the base', integerOption('items'), 100_000)
    .option('--backbone <name>', `the base's backbone at its default shape: ${BACKBONES.join(', ')} (default ${MODEL_DEFAULTS.backbone}; gru4rec takes no patches)`, choiceOption('backbone', BACKBONES))
    .option('--history-length <n>', 'items per request sequence', integerOption('history-length'), 50)
    .option('--seconds <s>', 'duration of each timed load', integerOption('seconds'), 10)
    .option('--connections <n>', 'concurrent clients for the throughput comparison', integerOption('connections'), 64)
    .option('--soak-requests <n>', 'mixed valid/invalid requests in the soak', integerOption('soak-requests'), 10_000)
    .option('--threads <n>', 'kernel threads of the server', integerOption('threads'))
    .option('--json', 'print one JSON object per line')
    .action(async (opts: ServeBenchOptions & { json?: boolean }) => {
      const { json, ...benchOptions } = opts;
      await runServeBench(benchOptions, printer(json));
    });
  bench
    .command('item-texts')
    .description('POST /v1/recommend on a random-weight text base (default shape, in process): p50/p99 latency without and with per-request itemTexts (distinct texts each request), heap growth')
    .option('--items <n>', 'items of the base', integerOption('items'), 5_000)
    .option('--backbone <name>', `the base's backbone at its default shape: ${BACKBONES.join(', ')} (default ${MODEL_DEFAULTS.backbone})`, choiceOption('backbone', BACKBONES))
    .option('--text-buckets <n>', 'hash buckets of the text tokenizer (default as ingest --text-buckets)', integerOption('text-buckets'))
    .option('--texts <n>', 'new items per itemTexts request', integerOption('texts'), 5)
    .option('--history-length <n>', 'items per request sequence', integerOption('history-length'), 50)
    .option('--requests <n>', 'timed requests per scenario', integerOption('requests'), 200)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print one JSON object per line')
    .action(async (opts: ItemTextsBenchOptions & { threads?: number; json?: boolean }) => {
      const { json, threads, ...benchOptions } = opts;
      if (threads) backend().setThreads(threads);
      await runItemTextsBench(benchOptions, printer(json));
    });
  return bench;
}
