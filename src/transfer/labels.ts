/**
 * Attribute labels for classification tasks, from the attribute table attached at ingest: categorical values
 * become classes in sorted order; numeric values are bucketed by `bins` (edges), e.g. 18,25,35 → <18, 18-24,
 * 25-34, 35+. Users without a value are left out; the users with a value are then split user-level (splitUsers in
 * data/split.ts).
 */
import { Dataset } from '../data/dataset.js';
import { DataError } from '../errors.js';

export interface UserLabels {
  /** Class index per user, -1 where the user has no value. */
  labels: Int32Array;
  classes: string[];
}

function binNames(bins: readonly number[]): string[] {
  return [`<${bins[0]}`, ...bins.slice(1).map((b, i) => `${bins[i]}-${b - 1}`), `${bins[bins.length - 1]}+`];
}

/** More distinct numeric values than this, without --bins, is a number to bucket rather than a set of classes. */
export const MAX_NUMERIC_CLASSES = 20;

/** A numeric attribute with many values (an age in years) is refused without --bins, with quartiles to start from. */
function refuseUnbinnedNumbers(values: readonly string[], label: string, source: string): void {
  const numbers = values.map(Number);
  if (values.length <= MAX_NUMERIC_CLASSES || !numbers.every(Number.isFinite)) return;
  const sorted = [...numbers].sort((a, b) => a - b);
  const quartiles = [0.25, 0.5, 0.75].map((q) => sorted[Math.floor(q * (sorted.length - 1))]!);
  throw new DataError(`${source}: attribute "${label}" is numeric with ${values.length} distinct values, which would be ${values.length} classes; ` +
    `bucket it with --bins (e.g. --bins ${[...new Set(quartiles)].join(',')}, its distinct values' quartiles)`);
}

export function userLabels(ds: Dataset, label: string, bins: readonly number[] | null, source: string): UserLabels {
  const column = ds.attributes[label];
  if (!column) {
    const known = ds.meta.attributes.length > 0 ? ds.meta.attributes.join(', ') : 'none (attach a table at ingest with --attributes)';
    throw new DataError(`${source}: no attribute column "${label}"; the dataset has: ${known}`);
  }
  const labels = new Int32Array(column.length).fill(-1);
  let classes: string[];
  if (bins) {
    if (bins.length === 0 || bins.some((b, i) => i > 0 && b <= bins[i - 1]!)) throw new DataError(`--bins must be increasing numbers, got ${bins.join(',')}`);
    classes = binNames(bins);
    column.forEach((v, u) => {
      if (v === null || v === '') return;
      const x = Number(v);
      if (!Number.isFinite(x)) throw new DataError(`${source}: attribute "${label}" of user ${ds.users[u]} is "${v}", not a number, so it cannot be binned`);
      labels[u] = bins.filter((b) => x >= b).length;
    });
    const counts = new Array<number>(classes.length).fill(0);
    for (const l of labels) if (l >= 0) counts[l]!++;
    const empty = classes.filter((_, c) => counts[c] === 0);
    if (empty.length > 0) throw new DataError(`${source}: --bins ${bins.join(',')} leave class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')} of "${label}" without users`);
  } else {
    classes = [...new Set(column.filter((v): v is string => v !== null && v !== ''))].sort();
    refuseUnbinnedNumbers(classes, label, source);
    const index = new Map(classes.map((c, i) => [c, i]));
    column.forEach((v, u) => {
      if (v !== null && v !== '') labels[u] = index.get(v)!;
    });
  }
  if (classes.length < 2) throw new DataError(`${source}: attribute "${label}" has ${classes.length} class${classes.length === 1 ? ` (${classes[0]})` : 'es'}; a classifier needs at least 2`);
  return { labels, classes };
}
