/** Which columns of an interaction table hold the user, item, timestamp and domain. */
import { DataError } from '../../errors.js';
import { findColumn, type TableSource } from './formats.js';

export interface ColumnChoice {
  userCol?: string;
  itemCol?: string;
  timeCol?: string;
  domainCol?: string;
}

export interface InteractionColumns {
  user: string;
  item: string;
  /** Absent: the input order is the time order. */
  time?: string;
  domain?: string;
}

/**
 * Names tried when a column is not named explicitly. `user_id` / `item_id` are RecBole's names, so `.inter` files
 * work without options. Timestamp and domain are optional; a column named explicitly must exist.
 */
export const DEFAULT_COLUMN_NAMES = {
  user: ['user', 'user_id'],
  item: ['item', 'item_id'],
  time: ['timestamp'],
  domain: ['domain'],
} as const;

function pick(source: TableSource, role: string, explicit: string | undefined, defaults: readonly string[], required: boolean) {
  const candidates = explicit !== undefined ? [explicit] : defaults;
  for (const name of candidates) {
    const found = findColumn(source, name);
    if (found !== undefined) return found;
  }
  if (!required && explicit === undefined) return undefined;
  const tried = candidates.length > 1 ? ` (tried ${candidates.join(', ')})` : '';
  const hint = source.columns.every((c) => /^column\d+$/.test(c)) ? '; the file has no header: name its columns with --columns' : '';
  throw new DataError(
    `${source.file}: missing ${role} column '${candidates[0]}'${tried}; found columns: ${source.columns.join(', ')}${hint}`,
  );
}

export function resolveInteractionColumns(source: TableSource, choice: ColumnChoice): InteractionColumns {
  const columns: InteractionColumns = {
    user: pick(source, 'user', choice.userCol, DEFAULT_COLUMN_NAMES.user, true)!,
    item: pick(source, 'item', choice.itemCol, DEFAULT_COLUMN_NAMES.item, true)!,
  };
  const time = pick(source, 'timestamp', choice.timeCol, DEFAULT_COLUMN_NAMES.time, false);
  const domain = pick(source, 'domain', choice.domainCol, DEFAULT_COLUMN_NAMES.domain, false);
  if (time !== undefined) columns.time = time;
  if (domain !== undefined) columns.domain = domain;
  return columns;
}
