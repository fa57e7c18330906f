/** The users a command answers for, from its flags: a known user (--user with --data) or one sequence (--items). */
import { Command } from 'commander';
import { HistoryWording, Users } from '../api/query.js';
import { DataError } from '../errors.js';

export interface HistoryFlags {
  user?: string;
  data?: string;
  items?: string;
  ignoreUnknown?: boolean;
}

/** The one history of --items is named by its flag in errors, not numbered as the library's histories are. */
export const ITEMS_WORDING: HistoryWording = {
  unknownItems: (_, ids) => `unknown item ids (not in the model's vocabulary): ${ids}`,
  noKnownItems: () => 'no known items in --items',
};

/** The one user of the flags, as the library takes users; the API resolves it against the model. */
export function usersFromFlags(f: HistoryFlags): Users {
  if ((f.user === undefined) === (f.items === undefined)) throw new DataError('give exactly one of --user (with --data) or --items');
  if (f.user !== undefined) {
    if (!f.data) throw new DataError('--user needs --data, the dataset that holds the user\'s sequence');
    return { users: [f.user], data: f.data };
  }
  const items = f.items!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return { histories: [items], ignoreUnknown: f.ignoreUnknown ?? false };
}

/** The options usersFromFlags reads, added to a command. */
export function withHistoryOptions(command: Command): Command {
  return command
    .option('--user <id>', 'raw user id of a user in --data')
    .option('--data <dir>', 'dataset holding --user\'s sequence')
    .option('--items <list>', 'comma-separated raw item ids, oldest first')
    .option('--ignore-unknown', 'skip --items the model does not know instead of failing');
}
