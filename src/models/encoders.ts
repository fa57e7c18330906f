/** The one place a backbone name becomes a network. */
import { ModelConfig } from '../config/schema.js';
import { Rng } from '../tensor/index.js';
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
    case 'gru4rec':
      return new GRU4Rec(config, rng, itemTokens);
  }
}
