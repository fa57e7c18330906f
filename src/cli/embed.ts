import { Command } from 'commander';
import { userSequence } from '../data/dataset.js';
import { writeVectorsParquet } from '../data/export/vectors.js';
import { DataError } from '../errors.js';
import { encodeHistories } from '../models/encoder.js';
import { backend, noGrad } from '../tensor/index.js';
import { withItemTextFile } from '../train/catalogue.js';
import { loadDatasetFor, loadModelDir } from '../train/checkpoint.js';
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
      const loaded = await loadModelDir(f.model);
      const dim = loaded.config.model.dim;
      if (f.items) {
        const newItems = itemTextFile(f);
        const base = newItems ? (await withItemTextFile(loaded, newItems, f.model)).base : loaded;
        const table = noGrad(() => base.model.items.table());
        await writeVectorsParquet(f.items, 'item', base.items, table.data.subarray(dim), dim, { overwrite: f.force });
        console.log(`${base.items.length} item vectors (${dim} floats) -> ${f.items}`);
      }
      if (f.users) {
        const ds = await loadDatasetFor(loaded.config, f.model, f.data!);
        const histories = ds.users.map((_, u) => userSequence(ds, u));
        await writeVectorsParquet(f.users, 'user', ds.users, encodeHistories(loaded.model, histories), dim, { overwrite: f.force });
        console.log(`${ds.users.length} user vectors (${dim} floats) -> ${f.users}`);
      }
    });
}
