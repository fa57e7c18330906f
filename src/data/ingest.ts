/**
 * `graftrec ingest`: an interaction log (CSV, TSV, Parquet, JSON lines, RecBole .inter, PeterRec CSV) plus an
 * optional user attribute table becomes a dataset directory (see dataset.ts). DuckDB does the parsing, counting,
 * numbering and sorting; JavaScript only receives finished columns. How ids are numbered and what the filters do is
 * documented in ingest/sequences.ts.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { DataError } from '../errors.js';
import { DATASET_FORMAT, DATASET_VERSION, saveDataset, type Dataset } from './dataset.js';
import { joinUserAttributes, type UserAttributes } from './ingest/attributes.js';
import { joinItemText, type ItemText } from './ingest/item-text.js';
import { joinItemFeatures } from './ingest/item-features.js';
import { resolveInteractionColumns, type ColumnChoice, type InteractionColumns } from './ingest/columns.js';
import { DuckSession } from './ingest/duckdb.js';
import { detectFormat, normalizeDelimiter, openTableSource, rowLocator, type InputFormat } from './ingest/formats.js';
import { loadInteractionTable, validateInteractionTable } from './ingest/interactions.js';
import { loadPeterRec, PETERREC_DOMAINS } from './ingest/peterrec.js';
import { filterAndIndex, pullIndexedArrays, type IndexCounts } from './ingest/sequences.js';
import { DEFAULT_TEXT_BUCKETS, tokenizerSpec } from './text/tokenize.js';

export { INPUT_FORMATS, type InputFormat } from './ingest/formats.js';
export { DEFAULT_COLUMN_NAMES } from './ingest/columns.js';

export const INGEST_DEFAULTS = {
  /** Below 2 a user cannot give both a training prefix and a held-out item. */
  minUserInteractions: 2,
  minItemInteractions: 1,
} as const;

export interface IngestOptions extends ColumnChoice {
  input: string;
  /** Default: from the file extension (see detectFormat). */
  format?: InputFormat;
  /** Column names in file order, for a header-less delimited file. */
  columns?: string[];
  /** Default true: the first line of a delimited file names the columns. */
  header?: boolean;
  /** Default: sniffed for CSV, tab for TSV and RecBole. `\t` may be written as backslash-t. */
  delimiter?: string;
  attributes?: string;
  attributeColumns?: string[];
  attributeDelimiter?: string;
  minUserInteractions?: number;
  minItemInteractions?: number;
  /** Item text table (an item column and text columns), tokenised into the dataset. */
  itemText?: string;
  /** Its text columns, in join order (default: every column but the item column). */
  itemTextColumns?: string[];
  /** Item vector table (an item column and a vector column) for the features item encoder. */
  itemFeatures?: string;
  /** Its vector column (default: the one column besides the item column). */
  itemFeaturesColumn?: string;
  /** Keep items without text or a vector (counted; empty text, zero vector) instead of refusing the table. */
  allowMissing?: boolean;
  /** Hash buckets of the text tokenizer (default DEFAULT_TEXT_BUCKETS). */
  textBuckets?: number;
  /** Keep only the interactions of this domain (e.g. the source domain a base model is pretrained on). */
  domain?: string;
  /** Called as the ingest moves through its steps, and while DuckDB works on one (nothing is printed without it). */
  onProgress?: (report: IngestProgress) => void;
}

/**
 * Where a running ingest is: its step ("reading FILE", "ordering sequences", "writing DIR", …) and DuckDB's
 * estimate of how far the step's current statement is, 0–100 (0 when a step starts; reading a large file moves it
 * steadily).
 */
export interface IngestProgress {
  step: string;
  percent: number;
}

export interface IngestSummary {
  input: string;
  format: InputFormat;
  out: string | null;
  users: number;
  items: number;
  interactions: number;
  domains: string[] | null;
  attributes: string[];
  /** Rows read from the input (interactions before filtering; with --domain, that domain's rows). */
  inputRows: number;
  /** With --domain: the rows of the other domains it dropped (not counted in droppedInteractions). */
  otherDomainRows: number;
  /** How each user's sequence was ordered: by a time column (ties by input order), or by input order. */
  order: string;
  droppedUsers: number;
  droppedItems: number;
  droppedInteractions: number;
  /** Kept users with no row in the attribute table (their attributes are null). */
  usersWithoutAttributes: number;
  /** With item text: its columns, kept items without text, and tokens per item (mean). */
  itemText: { columns: string[]; itemsWithoutText: number; meanTokens: number } | null;
  /** With item vectors: their length and kept items without one. */
  itemFeatures: { dim: number; itemsWithoutFeatures: number } | null;
  seconds: number;
}

/** Milliseconds are all a summary needs. */
function elapsedSeconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}

function requireReadableFile(file: string, role: string): void {
  let stats;
  try {
    stats = statSync(file);
  } catch {
    throw new DataError(`${file}: no such ${role} file`);
  }
  if (!stats.isFile()) throw new DataError(`${file}: not a file`);
  if (stats.size === 0) throw new DataError(`${file}: empty file`);
}

function threshold(value: number | undefined, fallback: number, flag: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1) throw new DataError(`--${flag} must be a positive integer, got ${value}`);
  return n;
}

/** Loads the log into DuckDB's `raw` table and returns which columns it used. */
async function loadLog(session: DuckSession, opts: IngestOptions, format: InputFormat): Promise<InteractionColumns | null> {
  if (format === 'peterrec') {
    await loadPeterRec(session, opts.input);
    await validateInteractionTable(session, opts.input, { user: 'line number', item: 'item' }, (r) => `row ${r + 1}`);
    return null;
  }
  const delimiter = normalizeDelimiter(opts.delimiter);
  const source = await openTableSource(session, opts.input, {
    format,
    header: opts.header ?? true,
    ...(opts.columns !== undefined ? { names: opts.columns } : {}),
    ...(delimiter !== undefined ? { delimiter } : {}),
  });
  const columns = resolveInteractionColumns(source, opts);
  await loadInteractionTable(session, source, columns);
  await validateInteractionTable(session, opts.input, columns, rowLocator(source));
  return columns;
}

/** Drops every interaction outside `domain`, keeping input order (which breaks timestamp ties). */
/** Returns how many rows of other domains it dropped. */
async function keepOneDomain(session: DuckSession, file: string, domain: string, hasDomain: boolean): Promise<number> {
  if (!hasDomain) throw new DataError(`${file}: --domain needs a domain column (see --domain-col)`);
  const names = (await session.strings('SELECT DISTINCT d FROM raw ORDER BY d')).filter((d): d is string => d !== null);
  if (!names.includes(domain)) throw new DataError(`${file}: no interactions in domain "${domain}" (domains: ${names.join(', ')})`);
  const [[before]] = (await session.rows('SELECT count(*) FROM raw')) as [[number]];
  await session.run(`CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM raw WHERE d = '${domain.replaceAll("'", "''")}' ORDER BY rowid`);
  const [[after]] = (await session.rows('SELECT count(*) FROM raw')) as [[number]];
  return before - after;
}

/** Reads, validates, filters and numbers the log; returns the dataset without writing it. */
export async function buildDataset(opts: IngestOptions): Promise<{ dataset: Dataset; summary: IngestSummary }> {
  const started = performance.now();
  const format = opts.format ?? detectFormat(opts.input);
  const thresholds = {
    minUserInteractions: threshold(opts.minUserInteractions, INGEST_DEFAULTS.minUserInteractions, 'min-user-interactions'),
    minItemInteractions: threshold(opts.minItemInteractions, INGEST_DEFAULTS.minItemInteractions, 'min-item-interactions'),
  };
  requireReadableFile(opts.input, 'input');
  if (opts.attributes !== undefined) requireReadableFile(opts.attributes, 'attribute');
  if (opts.itemText !== undefined) requireReadableFile(opts.itemText, 'item text');
  if (opts.itemFeatures !== undefined) requireReadableFile(opts.itemFeatures, 'item feature');
  const textBuckets = threshold(opts.textBuckets, DEFAULT_TEXT_BUCKETS, 'text-buckets');

  let step = '';
  const report = opts.onProgress;
  const at = (next: string) => {
    step = next;
    report?.({ step, percent: 0 });
  };
  const session = await DuckSession.open(report ? { onProgress: (percent) => report({ step, percent }) } : {});
  try {
    at(`reading ${basename(opts.input)}`);
    const columns = await loadLog(session, opts, format);
    const hasDomain = format === 'peterrec' || columns?.domain !== undefined;
    if (opts.domain !== undefined) at(`keeping domain ${opts.domain}`);
    const otherDomainRows = opts.domain !== undefined ? await keepOneDomain(session, opts.input, opts.domain, hasDomain) : 0;
    at('filtering and numbering users and items');
    const counts = await filterAndIndex(session, opts.input, thresholds, hasDomain);
    at('ordering sequences');
    const arrays = await pullIndexedArrays(session, counts, hasDomain);
    if (opts.attributes !== undefined) at(`joining ${basename(opts.attributes)}`);
    const attributes: UserAttributes = opts.attributes !== undefined
      ? await joinUserAttributes(session, {
          file: opts.attributes,
          userColumn: opts.userCol ?? 'user',
          ...(opts.attributeColumns !== undefined ? { columns: opts.attributeColumns } : {}),
          ...(opts.attributeDelimiter !== undefined ? { delimiter: normalizeDelimiter(opts.attributeDelimiter)! } : {}),
        })
      : { names: [], values: {}, usersWithoutRow: 0 };
    if (opts.itemText !== undefined) at(`joining ${basename(opts.itemText)}`);
    const itemText: ItemText | null = opts.itemText !== undefined
      ? await joinItemText(session, {
          file: opts.itemText,
          itemColumn: columns?.item ?? 'item',
          ...(opts.itemTextColumns !== undefined ? { columns: opts.itemTextColumns } : {}),
          allowMissing: opts.allowMissing ?? false,
          tokenizer: tokenizerSpec(textBuckets),
        })
      : null;
    if (opts.itemFeatures !== undefined) at(`joining ${basename(opts.itemFeatures)}`);
    const features = opts.itemFeatures !== undefined
      ? await joinItemFeatures(session, {
          file: opts.itemFeatures, itemColumn: columns?.item ?? 'item', allowMissing: opts.allowMissing ?? false,
          ...(opts.itemFeaturesColumn !== undefined ? { column: opts.itemFeaturesColumn } : {}),
        })
      : null;

    const dataset: Dataset = {
      meta: {
        format: DATASET_FORMAT,
        version: DATASET_VERSION,
        numUsers: counts.users,
        numItems: counts.items,
        numInteractions: counts.interactions,
        domains: arrays.domainNames,
        attributes: attributes.names,
        ...(itemText ? { itemText: { columns: itemText.columns, tokenizer: tokenizerSpec(textBuckets), itemsWithoutText: itemText.itemsWithoutText } } : {}),
        ...(features ? { itemFeatures: { dim: features.dim, itemsWithoutFeatures: features.itemsWithoutFeatures } } : {}),
        source: describeSource(opts, format, columns, thresholds, counts),
      },
      items: arrays.items,
      users: arrays.users,
      sequences: arrays.sequences,
      offsets: arrays.offsets,
      domains: arrays.domains,
      attributes: attributes.values,
      ...(itemText ? { itemText: { texts: itemText.texts, tokens: itemText.tokens } } : {}),
      ...(features ? { itemFeatures: features.vectors } : {}),
    };
    const summary: IngestSummary = {
      input: opts.input,
      format,
      out: null,
      users: counts.users,
      items: counts.items,
      interactions: counts.interactions,
      domains: arrays.domainNames,
      attributes: attributes.names,
      inputRows: counts.inputRows,
      otherDomainRows,
      order: columns?.time !== undefined ? `by column ${columns.time}, ties in input order` : 'in input order (no time column)',
      droppedUsers: counts.inputUsers - counts.users,
      droppedItems: counts.inputItems - counts.items,
      droppedInteractions: counts.inputRows - counts.interactions,
      usersWithoutAttributes: attributes.usersWithoutRow,
      itemText: itemText && {
        columns: itemText.columns, itemsWithoutText: itemText.itemsWithoutText,
        meanTokens: itemText.tokens.tokens.length / Math.max(1, counts.items),
      },
      itemFeatures: features && { dim: features.dim, itemsWithoutFeatures: features.itemsWithoutFeatures },
      seconds: elapsedSeconds(started),
    };
    return { dataset, summary };
  } finally {
    await session.close();
  }
}

function describeSource(
  opts: IngestOptions,
  format: InputFormat,
  columns: InteractionColumns | null,
  thresholds: { minUserInteractions: number; minItemInteractions: number },
  counts: IndexCounts,
): Record<string, unknown> {
  return {
    tool: 'graftrec ingest',
    file: opts.input,
    format,
    columns: columns ?? { user: 'line number', item: 'source and target fields', domain: PETERREC_DOMAINS.join(',') },
    timeOrder: columns?.time !== undefined ? `column ${columns.time}, ties by input order` : 'input order',
    ...(opts.domain !== undefined ? { domain: opts.domain } : {}),
    ...thresholds,
    inputRows: counts.inputRows,
    ...(opts.attributes !== undefined ? { attributesFile: opts.attributes } : {}),
    ...(opts.itemText !== undefined ? { itemTextFile: opts.itemText } : {}),
    ...(opts.itemFeatures !== undefined ? { itemFeaturesFile: opts.itemFeatures } : {}),
  };
}

/** Builds the dataset and writes it to `out` atomically: on any error nothing is left at `out`. */
export async function ingest(opts: IngestOptions & { out: string }): Promise<IngestSummary> {
  const started = performance.now();
  const { dataset, summary } = await buildDataset(opts);
  opts.onProgress?.({ step: `writing ${opts.out}`, percent: 0 });
  await saveDataset(opts.out, dataset);
  return { ...summary, out: opts.out, seconds: elapsedSeconds(started) };
}
