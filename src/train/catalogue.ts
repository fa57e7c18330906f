/**
 * New items by text: a model with the text item encoder scores any item it can tokenise, so items that arrived
 * after training (a new product, another platform's catalogue) join its catalogue by their text alone — no id
 * row to train. The extended model shares every weight with the loaded one (withAddedItems) and encodes only the
 * new items: the loaded model's own item vectors are reused.
 */
import { ModelError } from '../errors.js';
import { readItemTexts } from '../data/ingest/item-text.js';
import { tokenRows } from '../data/text/tokenize.js';
import { withAddedItems } from '../models/encoders.js';
import { LoadedModel } from './checkpoint.js';

export interface ExtendedCatalogue {
  /** The model over its own items followed by the new ones (item index numItems + 1 + k is added[k]). */
  base: LoadedModel;
  added: string[];
  /** Items of the text table the model already has (kept as they were trained; their text row is ignored). */
  alreadyKnown: number;
}

export function withItemTexts(loaded: LoadedModel, items: { ids: readonly string[]; texts: readonly string[] }, what = 'the model'): ExtendedCatalogue {
  const { config, model } = loaded;
  const tokenizer = config.itemText?.tokenizer;
  const own = model.items.itemTokens;
  if (config.model.itemEncoder !== 'text' || !tokenizer || !own) {
    throw new ModelError(`${what} encodes items by ${config.model.itemEncoder}; only a text item encoder (pretrain --item-encoder text) can take new items by their text`);
  }
  const known = new Set(loaded.items);
  const fresh = items.ids.flatMap((id, k) => (known.has(id) ? [] : [k]));
  const added = fresh.map((k) => items.ids[k]!);
  const numItems = config.model.numItems + added.length;
  return {
    base: {
      config: { ...config, model: { ...config.model, numItems } },
      model: withAddedItems(model, tokenRows(fresh.map((k) => items.texts[k]!), tokenizer)),
      items: [...loaded.items, ...added],
    },
    added,
    alreadyKnown: items.ids.length - added.length,
  };
}

/** A text table of new items: the file, and its text columns in join order (default: all but the item column). */
export interface ItemTextFile {
  file: string;
  columns?: string[];
}

/** withItemTexts over the items of a text table read from disk. */
export async function withItemTextFile(loaded: LoadedModel, source: ItemTextFile, what = 'the model'): Promise<ExtendedCatalogue> {
  return withItemTexts(loaded, await readItemTexts(source.file, source.columns ? { columns: source.columns } : {}), what);
}
