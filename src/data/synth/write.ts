/** Renders synthetic data as the plain CSVs `graftrec ingest` reads, and writes the output directory atomically. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { writeDirAtomic } from '../../io/atomic.js';
import { generateSynthetic, type SyntheticData } from './generate.js';
import type { SynthOptions } from './options.js';

export const INTERACTIONS_FILE = 'interactions.csv';
export const USERS_FILE = 'users.csv';
export const SYNTH_MANIFEST_FILE = 'synth.json';
export const SYNTH_FORMAT = 'graftrec-synth';
export const SYNTH_VERSION = 1;

export const INTERACTIONS_HEADER = 'user,item,timestamp,domain';
export const USERS_HEADER = 'user,gender,age,life_stage';

/** Raw item id as written: the domain's prefix and a 1-based number ('a17', 'b42'), unique across domains. */
export function itemId(data: SyntheticData, domain: number, item: number): string {
  return `${data.domains[domain]!.prefix}${item + 1}`;
}

/** One row per interaction, grouped by user (in id order) and in time order within a user. */
export function renderInteractionsCsv(data: SyntheticData): string {
  const lines: string[] = [INTERACTIONS_HEADER];
  for (const user of data.users) {
    for (let d = 0; d < data.domains.length; d++) {
      const { prefix, name } = data.domains[d]!;
      const items = user.items[d]!;
      const times = user.timestamps[d]!;
      for (let j = 0; j < items.length; j++) lines.push(`${user.id},${prefix}${items[j]! + 1},${times[j]!},${name}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

export function renderUsersCsv(data: SyntheticData): string {
  const lines: string[] = [USERS_HEADER];
  for (const { id, attributes: a } of data.users) lines.push(`${id},${a.gender},${a.age},${a.lifeStage}`);
  lines.push('');
  return lines.join('\n');
}

export interface SynthSummary {
  out: string;
  users: number;
  /** Items per domain. */
  items: number;
  domains: number;
  interactions: number;
  interactionsPerDomain: Record<string, number>;
  usersPerDomain: Record<string, number>;
}

function summarize(data: SyntheticData, out: string): SynthSummary {
  const interactionsPerDomain: Record<string, number> = {};
  const usersPerDomain: Record<string, number> = {};
  data.domains.forEach((domain, d) => {
    interactionsPerDomain[domain.name] = data.users.reduce((s, u) => s + u.items[d]!.length, 0);
    usersPerDomain[domain.name] = data.users.filter((u) => u.items[d]!.length > 0).length;
  });
  return {
    out,
    users: data.users.length,
    items: data.options.items,
    domains: data.domains.length,
    interactions: data.interactionCount,
    interactionsPerDomain,
    usersPerDomain,
  };
}

/** synth.json: everything needed to regenerate the directory, and nothing that varies between runs. */
export function renderManifest(data: SyntheticData): string {
  const { out: _out, ...counts } = summarize(data, '');
  const manifest = {
    format: SYNTH_FORMAT,
    version: SYNTH_VERSION,
    generator: 'graftrec synth (src/data/synth.ts documents the generative model)',
    options: data.options,
    files: { interactions: INTERACTIONS_FILE, users: USERS_FILE },
    counts,
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}

/**
 * The whole directory is replaced atomically, so an existing one must be ours: an existing non-empty directory
 * without synth.json (or a file) at `dir` is refused rather than deleted.
 */
function assertReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new DataError(`${dir}: exists and is not a directory; refusing to replace it`);
  if (readdirSync(dir).length > 0 && !existsSync(join(dir, SYNTH_MANIFEST_FILE))) {
    throw new DataError(`${dir}: exists and is not a graftrec synth output (no ${SYNTH_MANIFEST_FILE}); refusing to replace it`);
  }
}

export async function writeSyntheticData(dir: string, data: SyntheticData): Promise<SynthSummary> {
  assertReplaceable(dir);
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, INTERACTIONS_FILE), renderInteractionsCsv(data));
    await writeFile(join(tmp, USERS_FILE), renderUsersCsv(data));
    await writeFile(join(tmp, SYNTH_MANIFEST_FILE), renderManifest(data));
  });
  return summarize(data, dir);
}

/** Generates with `options` and writes interactions.csv, users.csv and synth.json to `dir`. */
export async function writeSynthetic(dir: string, options: Partial<SynthOptions> = {}): Promise<SynthSummary> {
  assertReplaceable(dir);
  return writeSyntheticData(dir, generateSynthetic(options));
}
