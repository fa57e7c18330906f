import { Command, Option } from 'commander';
import { createStepProgress } from '../train/progress.js';
import { integerOption, nameListOption } from './options.js';
import { DEFAULT_TEXT_BUCKETS } from '../data/text/tokenize.js';
import { ingest } from '../api/data.js';
import { INGEST_DEFAULTS, INPUT_FORMATS, type IngestOptions, type IngestProgress, type IngestSummary, type InputFormat } from '../data/ingest.js';

interface IngestFlags {
  out: string;
  format?: InputFormat;
  userCol?: string;
  itemCol?: string;
  timeCol?: string;
  domainCol?: string;
  columns?: string[];
  header: boolean;
  delimiter?: string;
  attributes?: string;
  attributeColumns?: string[];
  attributeDelimiter?: string;
  itemText?: string;
  itemTextCols?: string[];
  itemFeatures?: string;
  itemFeaturesCol?: string;
  allowMissing?: boolean;
  textBuckets: number;
  minUserInteractions: number;
  minItemInteractions: number;
  domain?: string;
  json?: boolean;
  quiet?: boolean;
}

function describeSummary(s: IngestSummary): string {
  const dropped = `dropped ${s.droppedUsers} users, ${s.droppedItems} items, ${s.droppedInteractions} interactions`;
  const extras = [
    s.domains ? `domains: ${s.domains.join(', ')}` : '',
    s.attributes.length > 0 ? `attributes: ${s.attributes.join(', ')} (${s.usersWithoutAttributes} users without a row)` : '',
    s.itemText ? `item text: ${s.itemText.columns.join(', ')} (${s.itemText.meanTokens.toFixed(1)} tokens per item, ${s.itemText.itemsWithoutText} items without text)` : '',
    s.itemFeatures ? `item vectors: ${s.itemFeatures.dim} floats each (${s.itemFeatures.itemsWithoutFeatures} items without one)` : '',
  ].filter((x) => x !== '');
  return [
    `${s.input} (${s.format}) -> ${s.out}`,
    `${s.users} users, ${s.items} items, ${s.interactions} interactions (${dropped}) in ${s.seconds.toFixed(2)} s`,
    `each user's items ordered ${s.order}`,
    s.otherDomainRows > 0 ? `--domain kept one domain: ${s.otherDomainRows} interactions of the other domains left out` : '',
    ...extras,
  ].filter((line) => line !== '').join('\n');
}

export function ingestCommand(): Command {
  return new Command('ingest')
    .description('Turn an interaction log (CSV, TSV, Parquet, JSON lines, RecBole .inter, PeterRec CSV) into a dataset directory')
    .argument('<file>', 'interaction log; format from the extension (.csv .tsv .parquet .jsonl/.json/.ndjson .inter, anything else: delimited text)')
    .requiredOption('--out <dir>', 'dataset directory to write (replaced atomically; nothing is written on error)')
    .addOption(new Option('--format <format>', 'override the format detected from the extension').choices(INPUT_FORMATS))
    .option('--user-col <name>', 'user id column (default: user, else user_id)')
    .option('--item-col <name>', 'item id column (default: item, else item_id)')
    .option('--time-col <name>', 'timestamp column, numbers or date-times (default: timestamp if present, else input order)')
    .option('--domain-col <name>', 'domain column (default: domain if present)')
    .option('--columns <names>', 'names of the columns in file order, for a file without a header (with --no-header)', nameListOption('columns'))
    .option('--no-header', 'the delimited file has no header line')
    .option('--delimiter <char>', "field delimiter (default: sniffed; tab for .tsv/.inter); '\\t' means tab")
    .option('--attributes <file>', 'user attribute table, joined on the user id (its --user-col column, else its first column)')
    .option('--attribute-columns <names>', 'names of the attribute table columns in file order; the table then has no header', nameListOption('attribute-columns'))
    .option('--attribute-delimiter <char>', 'attribute table delimiter (default: sniffed)')
    .option('--item-text <file>', 'item text table (an item column and text columns), tokenised for `--item-encoder text`')
    .option('--item-text-cols <names>', 'text columns of --item-text, joined in this order (default: all but the item column)', nameListOption('item-text-cols'))
    .option('--item-features <file>', 'item vector table (an item column and a vector column: Parquet/JSON list, or "[…]" text), for `--item-encoder features`')
    .option('--item-features-col <name>', 'the vector column of --item-features (default: the one column besides the item column)')
    .option('--allow-missing', 'keep items without a row in --item-text / --item-features (empty text, zero vector) and count them, instead of failing')
    .option('--text-buckets <n>', 'hash buckets of the text tokenizer (shared across datasets that use the same number)', integerOption('text-buckets'), DEFAULT_TEXT_BUCKETS)
    .option('--min-user-interactions <n>', 'drop users with fewer interactions (after the item filter)', integerOption('min-user-interactions'), INGEST_DEFAULTS.minUserInteractions)
    .option('--min-item-interactions <n>', 'drop items with fewer interactions (applied first)', integerOption('min-item-interactions'), INGEST_DEFAULTS.minItemInteractions)
    .option('--domain <name>', 'keep only this domain\'s interactions (e.g. pretrain on the source domain, keep the target domain for transfer)')
    .option('--json', 'print the summary as one JSON object')
    .option('--quiet', 'no progress output')
    .action(async (file: string, flags: IngestFlags) => {
      const { json, quiet, itemTextCols, itemFeaturesCol, ...rest } = flags;
      // A bar per step on a terminal once a run takes more than a second (a large log); stdout keeps only the summary.
      const progress = createStepProgress(process.stderr, quiet ?? false);
      const options: IngestOptions & { out: string } = {
        input: file, ...rest, ...(itemTextCols !== undefined ? { itemTextColumns: itemTextCols } : {}),
        ...(itemFeaturesCol !== undefined ? { itemFeaturesColumn: itemFeaturesCol } : {}),
        ...(progress ? { onProgress: (p: IngestProgress) => progress.update(p.step, p.percent) } : {}),
      };
      let summary: IngestSummary;
      try {
        summary = await ingest(options);
      } catch (err) {
        progress?.stop(false);
        throw err;
      }
      progress?.stop(true);
      console.log(json ? JSON.stringify(summary) : describeSummary(summary));
    });
}
