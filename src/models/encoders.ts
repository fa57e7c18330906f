/** The one place a backbone name becomes a network. */
import { ModelConfig } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Rng } from '../tensor/index.js';
import { BERT4Rec } from './bert4rec.js';
import { UserEncoder } from './encoder.js';
import { GRU4Rec } from './gru4rec.js';
import { ItemSideInfo, ItemTokens, isItemFeatures } from './item-encoder.js';
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
  const other = createEncoder({ ...model.config, numItems }, new UndrawnRng(0), side);
  // Every parameter is overwritten here (loadValues refuses a missing one), so none keeps an undrawn value.
  other.loadValues(model.parameterMap(), 'the trained model');
  return other;
}

/**
 * A text model over its own items followed by `added` new ones, read by their text tokens (same tokenizer; CSR
 * over the new items only). Unlike forItemCatalogue nothing is built or copied: the network is a copy of `model`
 * sharing every weight — a per-request catalogue (serve's itemTexts) would otherwise allocate and fill a whole
 * token table — and, without a graph, takes its own items' vectors from model's cache and encodes only the new
 * items' (ItemEncoder.withAddedItems).
 */
export function withAddedItems(model: UserEncoder, added: ItemTokens): UserEncoder {
  return model.withItemEncoder(model.items.withAddedItems(added), model.config.numItems + added.offsets.length - 1);
}

/**
 * An Rng that leaves the arrays it is asked to fill as they are (zeros): for a network whose every weight is
 * copied in right after it is built. Drawing them would be wasted — at 2^17 hash buckets the token table's
 * draws took ~0.7 s, which a server building a request's catalogue (serve's itemTexts) paid on every request.
 */
class UndrawnRng extends Rng {
  override fillUniform(out: Float32Array): Float32Array {
    return out;
  }

  override fillNormal(out: Float32Array): Float32Array {
    return out;
  }

  override fillTruncatedNormal(out: Float32Array): Float32Array {
    return out;
  }
}
