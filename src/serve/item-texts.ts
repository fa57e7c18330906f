/**
 * New items by text, per request: `"itemTexts": [{"id", "text"}, …]` adds items the base does not have to that
 * one request's catalogue (train/catalogue.ts, the same extension `--item-text` makes at load). The extended
 * network lives only as long as the request — nothing is cached, so a stream of distinct texts cannot grow the
 * server's memory. An id already in the catalogue keeps its trained (or load-time) vector; its text is ignored.
 */
import { GraftrecError } from '../errors.js';
import { ExtendedCatalogue, withItemTexts } from '../train/catalogue.js';
import { LoadedModel } from '../train/checkpoint.js';
import { HttpError } from './http-error.js';

/** At most this many texts in one request: each is tokenised and encoded (the catalogue's own vectors are reused). */
export const MAX_ITEM_TEXTS = 100;
export const MAX_ITEM_TEXT_LENGTH = 4000;

export interface ItemText {
  id: string;
  text: string;
}

/** The base over its own items plus the request's new ones, or a 400 naming what is wrong with them. */
export function requestCatalogue(base: LoadedModel, itemTexts: readonly ItemText[]): ExtendedCatalogue {
  if (base.config.model.itemEncoder !== 'text') {
    throw new HttpError(400, `"itemTexts" needs a model with the text item encoder; this server's model encodes items by ${base.config.model.itemEncoder}, so only its own item ids can be used`);
  }
  const ids = new Set<string>();
  itemTexts.forEach(({ id, text }, k) => {
    if (ids.has(id)) throw new HttpError(400, `"itemTexts" gives item "${id}" twice`);
    ids.add(id);
    // The schema bounds the length; a text of blanks would be an item with no words, scored as noise.
    if (text.trim() === '') throw new HttpError(400, `"itemTexts"[${k}] (item "${id}") has an empty text`);
  });
  let extended: ExtendedCatalogue;
  try {
    extended = withItemTexts(base, { ids: itemTexts.map((t) => t.id), texts: itemTexts.map((t) => t.text) }, 'this server\'s model');
  } catch (err) {
    if (err instanceof GraftrecError) throw new HttpError(400, err.message);
    throw err;
  }
  // A text of punctuation only has no token: its vector would be the encoder's bias alone, the same for any such item.
  const offsets = extended.base.model.items.itemTokens!.offsets;
  const first = base.items.length + 1;
  const wordless = extended.added.filter((_, k) => offsets[first + k + 1] === offsets[first + k]);
  if (wordless.length > 0) throw new HttpError(400, `"itemTexts" has no words in the text of item "${wordless[0]}"`);
  return extended;
}
