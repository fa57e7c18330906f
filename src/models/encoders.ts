/** The one place a backbone name becomes a network. */
import { ModelConfig } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Rng } from '../tensor/index.js';
import { BERT4Rec } from './bert4rec.js';
import { UserEncoder } from './encoder.js';
import { GRU4Rec } from './gru4rec.js';
import { ItemTokens } from './item-encoder.js';
import { NextItNet } from './nextitnet.js';
import { SASRec } from './sasrec.js';

/**
 * A freshly initialised network of the backbone `config.backbone` names. `itemTokens`: the items' text tokens,
 * which a text item encoder (config.itemEncoder) needs.
 */
export function createEncoder(config: ModelConfig, rng: Rng, itemTokens: ItemTokens | null = null): UserEncoder {
  switch (config.backbone) {
    case 'nextitnet':
      return new NextItNet(config, rng, itemTokens);
    case 'sasrec':
      return new SASRec(config, rng, itemTokens);
    case 'bert4rec':
      return new BERT4Rec(config, rng, itemTokens);
    case 'gru4rec':
      return new GRU4Rec(config, rng, itemTokens);
  }
}

/**
 * The same network over another item catalogue: `tokens` are the new items' text tokens (same tokenizer), and
 * every weight is shared with `model` — a text item encoder has no per-item parameter, so nothing is left
 * untrained. An encoder with an id table cannot: its rows belong to the old catalogue.
 */
export function forItemCatalogue(model: UserEncoder, numItems: number, tokens: ItemTokens): UserEncoder {
  if (model.config.itemEncoder !== 'text') {
    throw new ModelError(`a ${model.config.itemEncoder} item encoder has a row per trained item and cannot score another catalogue; pretrain with --item-encoder text`);
  }
  const other = createEncoder({ ...model.config, numItems }, new Rng(0), tokens);
  other.loadValues(model.parameterMap(), 'the trained model');
  return other;
}
