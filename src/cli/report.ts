import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { DataError } from '../errors.js';
import { refuseExistingFile, writeFileAtomic } from '../io/atomic.js';
import { buildReport } from '../report/report.js';

interface ReportFlags {
  model: string;
  experiment?: string;
  data?: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('Write one self-contained HTML page (no network needed to view it): the pretraining run\'s loss and validation metrics per epoch, a transfer experiment\'s strategies and baselines, and the dataset\'s statistics')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .option('--experiment <path>', 'a transfer experiment: its --out directory or its results.json')
    .option('--data <dir>', 'dataset for the statistics (default: the one recorded in the model\'s config.json, when it is there)')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--force', 'replace an existing --out file')
    .option('--json', 'print a JSON summary')
    .action(async (f: ReportFlags) => {
      if (existsSync(f.out) && statSync(f.out).isDirectory()) throw new DataError(`${f.out}: is a directory; --out takes the HTML file to write`);
      refuseExistingFile(f.out, f.force ?? false);
      const report = await buildReport({ model: f.model, experiment: f.experiment, data: f.data });
      await mkdir(dirname(f.out), { recursive: true });
      await writeFileAtomic(f.out, report.html);
      for (const note of report.notes) process.stderr.write(`note: ${note}\n`);
      const bytes = Buffer.byteLength(report.html);
      process.stdout.write(f.json
        ? JSON.stringify({ out: f.out, bytes, charts: report.charts, notes: report.notes }) + '\n'
        : `report with ${report.charts} charts -> ${f.out} (${(bytes / 1024).toFixed(0)} KiB)\n`);
    });
}
