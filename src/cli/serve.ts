import { Command } from 'commander';
import { serve } from '../api/serve.js';
import { backend } from '../tensor/index.js';
import { ItemTextFlags, itemTextFile, withItemTextOptions } from './item-text-options.js';
import { choiceOption, integerOption } from './options.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

interface ServeFlags extends ItemTextFlags {
  model: string;
  patches?: string;
  continual?: string;
  data?: string;
  port: number;
  host: string;
  batchWaitMs: number;
  maxBatch: number;
  bodyLimit: number;
  ignoreUnknownItems?: boolean;
  watch?: boolean;
  threads?: number;
  logLevel: (typeof LOG_LEVELS)[number];
  adminToken?: string;
}

export function serveCommand(): Command {
  return withItemTextOptions(new Command('serve')
    .description('Serve one base model and every task patch in a directory over HTTP (POST /v1/recommend, /v1/predict/:task, /v1/embed; GET /v1/tasks; OpenAPI at /docs/json)')
    .requiredOption('--model <dir>', 'base model directory'), 'to score besides the trained ones')
    .option('--patches <dir>', 'directory of task patch directories (from graftrec finetune)')
    .option('--continual <dir>', 'a continual model grown from this base (graftrec continual): its tasks are served beside the patches')
    .option('--data <dir>', 'dataset to look up "user" ids in')
    .option('--port <n>', 'TCP port (0 = any free port)', integerOption('port', 0, 65535), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--batch-wait-ms <ms>', 'micro-batching window (0 = no batching)', integerOption('batch-wait-ms', 0, 1000), 2)
    .option('--max-batch <n>', 'largest micro-batch', integerOption('max-batch', 1, 4096), 64)
    .option('--body-limit <bytes>', 'largest request body', integerOption('body-limit', 1024), 1 << 20)
    .option('--ignore-unknown-items', 'drop unknown item ids from "items" (and report them as ignoredItems) instead of answering 400')
    .option('--watch', 'reload tasks when the patch directory changes (besides POST /v1/tasks/reload)')
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--admin-token <token>', 'enable the admin routes (POST /v1/tasks/reload) for requests with "Authorization: Bearer <token>"; default: GRAFTREC_ADMIN_TOKEN, else admin routes are off')
    .option('--log-level <level>', 'pino log level', choiceOption('log-level', LOG_LEVELS), 'info')
    .action(async (f: ServeFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const server = await serve({
        model: f.model, itemText: itemTextFile(f), patches: f.patches, continual: f.continual, data: f.data, port: f.port, host: f.host, watch: f.watch,
        ignoreUnknownItems: f.ignoreUnknownItems, batchWaitMs: f.batchWaitMs, maxBatch: f.maxBatch, bodyLimit: f.bodyLimit,
        adminToken: f.adminToken ?? process.env.GRAFTREC_ADMIN_TOKEN, logLevel: f.logLevel, logStream: process.stderr,
      }, { port: '--port', adminToken: '--admin-token (or GRAFTREC_ADMIN_TOKEN)' });
      // One parseable line on stdout, whatever the log level, so scripts and benchmarks can find the port; the
      // JSON log lines go to stderr, so neither stream mixes the two.
      process.stdout.write(`graftrec serving on ${server.url}\n`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
