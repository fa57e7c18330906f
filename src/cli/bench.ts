import { Command, InvalidArgumentError } from 'commander';
import { runKernelBench } from '../../bench/kernels.js';
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
  return bench;
}
