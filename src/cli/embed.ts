import { Command } from 'commander';
import { loadModel } from '../api/model.js';
import { Vectors, embedItems, embedUsers } from '../api/query.js';
import { writeVectorsParquet } from '../data/export/vectors.js';
import { DataError } from '../errors.js';
import { backend } from '../tensor/index.js';
import { ItemTextFlags, itemTextFile, withItemTextOptions } from './item-text-options.js';
import { integerOption } from './options.js';

interface EmbedFlags extends ItemTextFlags {
  model: string;
  items?: string;
  data?: string;
  users?: string;
  force?: boolean;
  threads?: number;
}

export function embedCommand(): Command {
  return withItemTextOptions(new Command('embed')
    .description('Export vectors as Parquet (id, vector): the item encoder\'s item vectors, and/or the base model\'s user vectors (last position) for every user of a dataset')
    .requiredOption('--model <dir>', 'model directory')
    .option('--items <file>', 'write every item\'s vector here (.parquet)'), 'to embed into --items besides the trained ones')
    .option('--data <dir>', 'dataset whose users --users embeds (the model\'s vocabulary)')
    .option('--users <file>', 'write every user\'s vector here (.parquet; needs --data)')
    .option('--force', 'replace existing output files')
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .action(async (f: EmbedFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      if (!f.items && !f.users) throw new DataError('give --items FILE, --users FILE (with --data), or both');
      if (f.users && !f.data) throw new DataError('--users needs --data, the dataset whose users to embed');
      if (f.itemText && !f.items) throw new DataError('--item-text adds items to --items; give --items FILE');
      const model = await loadModel(f.model, { itemText: itemTextFile(f) });
      const write = async (file: string, kind: 'item' | 'user', v: Vectors) => {
        await writeVectorsParquet(file, kind, v, { overwrite: f.force });
        console.log(`${v.ids.length} ${kind} vectors (${v.dim} floats) -> ${file}`);
      };
      if (f.items) await write(f.items, 'item', embedItems(model));
      if (f.users) await write(f.users, 'user', await embedUsers(model, { data: f.data! }));
    });
}
