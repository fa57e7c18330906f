import { Command, InvalidArgumentError } from 'commander';
import { SYNTH_DEFAULTS, writeSynthetic } from '../data/synth.js';

function parsePositiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function parseDomains(value: string): number {
  if (value !== '1' && value !== '2') throw new InvalidArgumentError('domains must be 1 or 2');
  return Number(value);
}

function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 0x7fffffff) throw new InvalidArgumentError('seed must be an integer in [0, 2147483647]');
  return n;
}

function parseMeanLength(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 3) throw new InvalidArgumentError('mean length must be a number ≥ 3');
  return n;
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('overlap must be a fraction in [0, 1]');
  return n;
}

interface SynthCliOptions {
  out: string;
  users: number;
  items: number;
  domains: number;
  seed: number;
  meanLength: number;
  overlap: number;
  json?: boolean;
}

export function synthCommand(): Command {
  const d = SYNTH_DEFAULTS;
  return new Command('synth')
    .description(
      'Write a synthetic click log with planted structure (interactions.csv, users.csv, synth.json): a sequential ' +
        'topic chain, latent user taste shared by two domains, and attributes derived from the taste',
    )
    .requiredOption('--out <dir>', 'output directory (replaced atomically; an existing non-synth directory is refused)')
    .option('--users <n>', 'number of users', parsePositiveInt('users'), d.users)
    .option('--items <n>', 'items per domain', parsePositiveInt('items'), d.items)
    .option('--domains <n>', '1 (domain A only) or 2 (A = source, B = target)', parseDomains, d.domains)
    .option('--seed <n>', 'random seed (same seed, same bytes)', parseSeed, d.seed)
    .option('--mean-length <n>', 'mean domain-A sequence length (minimum 3)', parseMeanLength, d.meanLength)
    .option('--overlap <fraction>', 'fraction of users who also have domain-B interactions', parseFraction, d.overlap)
    .option('--json', 'print a JSON summary')
    .action(async (opts: SynthCliOptions) => {
      const started = performance.now();
      const { out, json, ...options } = opts;
      const summary = await writeSynthetic(out, options);
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
