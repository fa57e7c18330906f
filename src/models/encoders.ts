/** The one place a backbone name becomes a network. */
import { ModelConfig } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Rng } from '../tensor/index.js';
import { BERT4Rec } from './bert4rec.js';
import { UserEncoder } from './encoder.js';
import { GRU4Rec } from './gru4rec.js';
import { ItemSideInfo, isItemFeatures } from './item-encoder.js';
import { NextItNet } from './nextitnet.js';
import { SASRec } from './sasrec.js';

/**
 * A freshly initialised network of the backbone `config.backbone` names. `side`: what the item encoder
 * (config.itemEncoder) reads about the items besides their ids — text tokens, or vectors.
 */
export function createEncoder(config: ModelConfig, rng: Rng, side: ItemSideInfo | null = null): UserEncoder {
  switch (config.backbone) {
    case 'nextitnet':
      return new NextItNet(config, rng, side);
    case 'sasrec':
      return new SASRec(config, rng, side);
    case 'bert4rec':
      return new BERT4Rec(config, rng, side);
    case 'gru4rec':
      return new GRU4Rec(config, rng, side);
  }
}

/** What a model's item encoder reads about its own items (null for the id encoder). */
export function itemSideOf(model: UserEncoder): ItemSideInfo | null {
  return model.items.itemTokens ?? model.items.itemFeatures;
}

/**
 * The same network over another item catalogue: `side` is what the new items are read by — their text tokens
 * (same tokenizer) for a text encoder, their vectors (same feature model) for a features encoder — and every
 * weight is copied from `model`: neither encoder has a per-item parameter, so nothing is left untrained. An
 * encoder with an id table cannot: its rows belong to the old catalogue.
 */
export function forItemCatalogue(model: UserEncoder, numItems: number, side: ItemSideInfo): UserEncoder {
  const kind = model.config.itemEncoder;
  if (kind !== 'text' && kind !== 'features') {
    throw new ModelError(`a ${kind} item encoder has a row per trained item and cannot score another catalogue; pretrain with --item-encoder text (or features)`);
  }
  if ((kind === 'features') !== isItemFeatures(side)) {
    throw new ModelError(`a ${kind} item encoder reads ${kind === 'features' ? 'item vectors' : 'item text'}, and the other catalogue gives ${isItemFeatures(side) ? 'vectors' : 'text'}`);
  }
  const other = createEncoder({ ...model.config, numItems }, new Rng(0), side);
  other.loadValues(model.parameterMap(), 'the trained model');
  return other;
}
