import { Command } from 'commander';
import { synth } from '../api/data.js';
import { SYNTH_DEFAULTS, type SynthOptions } from '../data/synth.js';
import { integerOption, numberOption } from './options.js';

type SynthCliOptions = SynthOptions & { out: string; json?: boolean };

export function synthCommand(): Command {
  const d = SYNTH_DEFAULTS;
  return new Command('synth')
    .description(
      'Write a synthetic click log with planted structure (interactions.csv, users.csv, synth.json): a sequential ' +
        'topic chain, latent user taste shared by two domains, and attributes derived from the taste',
    )
    .requiredOption('--out <dir>', 'output directory (replaced atomically; an existing non-synth directory is refused)')
    .option('--users <n>', 'number of users', integerOption('users'), d.users)
    .option('--items <n>', 'items per domain', integerOption('items'), d.items)
    .option('--domains <n>', '1 (domain A only) or 2 (A = source, B = target)', integerOption('domains', 1, 2), d.domains)
    .option('--seed <n>', 'random seed (same seed, same bytes)', integerOption('seed', 0, 0x7fffffff), d.seed)
    .option('--mean-length <n>', 'mean domain-A sequence length (minimum 3)', numberOption('mean-length', { min: 3 }), d.meanLength)
    .option('--overlap <fraction>', 'fraction of users who also have domain-B interactions', numberOption('overlap', { min: 0, max: 1 }), d.overlap)
    .option('--json', 'print a JSON summary')
    .action(async (opts: SynthCliOptions) => {
      const started = performance.now();
      const { out, json, ...options } = opts;
      const summary = await synth({ out, ...options });
      const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
      if (json) {
        console.log(JSON.stringify({ ...summary, seconds }));
      } else {
        const perDomain = Object.entries(summary.interactionsPerDomain)
          .map(([name, n]) => `${name}: ${n} interactions by ${summary.usersPerDomain[name]} users`)
          .join('; ');
        console.log(`wrote ${summary.out}: ${summary.users} users, ${summary.items} items per domain (${perDomain}) in ${seconds} s`);
      }
    });
}
