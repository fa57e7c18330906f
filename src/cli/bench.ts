import { Command, InvalidArgumentError } from 'commander';
import { runIngestBench } from '../../bench/ingest.js';
import { runKernelBench } from '../../bench/kernels.js';
import { TrainBenchOptions, runTrainBench } from '../../bench/train.js';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../config/schema.js';
import { integerOption } from './options.js';
import { backend } from '../tensor/index.js';

function parseThreads(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('threads must be a positive integer');
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('seconds must be a positive number');
  return n;
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('Benchmarks that print one JSON object per measurement');
  bench
    .command('kernels')
    .description('GEMM GFLOP/s per backend, N-API call cost, residual block forward/backward time')
    .option('--json', 'print one JSON object per line (default: a readable table)')
    .option('--threads <n>', 'kernel threads (default: GRAFTREC_THREADS or all cores)', parseThreads)
    .option('--seconds <s>', 'minimum timing per measurement', parseSeconds, 0.5)
    .action((opts: { json?: boolean; threads?: number; seconds: number }) => {
      if (opts.threads) backend().setThreads(opts.threads);
      const emit = opts.json
        ? (r: Record<string, unknown>) => console.log(JSON.stringify(r))
        : (r: Record<string, unknown>) =>
            console.log(Object.entries(r).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join('  '));
      runKernelBench(emit, { minSeconds: opts.seconds });
    });
  bench
    .command('ingest')
    .description('ingest a synthetic user,item,timestamp CSV (written to and removed from a temp dir); interactions per second')
    .option('--json', 'print one JSON object (default: key=value)')
    .option('--interactions <n>', 'rows in the synthetic log', (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError('interactions must be an integer >= 2');
      return n;
    }, 10_000_000)
    .action(async (opts: { json?: boolean; interactions: number }) => {
      await runIngestBench(
        (r) => console.log(opts.json ? JSON.stringify(r) : Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  ')),
        { interactions: opts.interactions },
      );
    });
  bench
    .command('train')
    .description('one optimizer step of training (forward, loss, backward, Adam) on random sequences: seq/s, ms/step, peak RSS')
    .option('--items <n>', 'vocabulary size', integerOption('items'), 100_000)
    .option('--dim <n>', 'channels', integerOption('dim'), MODEL_DEFAULTS.dim)
    .option('--blocks <n>', 'residual blocks', integerOption('blocks'), MODEL_DEFAULTS.blocks)
    .option('--batch <n>', 'sequences per step', integerOption('batch'), TRAIN_DEFAULTS.batch)
    .option('--max-len <n>', 'sequence length', integerOption('max-len', 2), MODEL_DEFAULTS.maxLen)
    .option('--negatives <n>', '0 = full softmax, N = sampled softmax', integerOption('negatives', 0), 100)
    .option('--steps <n>', 'timed steps', integerOption('steps'), 20)
    .option('--warmup <n>', 'untimed steps first', integerOption('warmup', 0), 3)
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print one JSON object')
    .action((opts: TrainBenchOptions & { threads?: number; json?: boolean }) => {
      if (opts.threads) backend().setThreads(opts.threads);
      runTrainBench(opts, (r) => console.log(opts.json ? JSON.stringify(r) : Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  ')));
    });
  return bench;
}
