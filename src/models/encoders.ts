/** The one place a backbone name becomes a network. */
import { ModelConfig } from '../config/schema.js';
import { Rng } from '../tensor/index.js';
import { BERT4Rec } from './bert4rec.js';
import { UserEncoder } from './encoder.js';
import { GRU4Rec } from './gru4rec.js';
import { NextItNet } from './nextitnet.js';
import { SASRec } from './sasrec.js';

/** A freshly initialised network of the backbone `config.backbone` names. */
export function createEncoder(config: ModelConfig, rng: Rng): UserEncoder {
  switch (config.backbone) {
    case 'nextitnet':
      return new NextItNet(config, rng);
    case 'sasrec':
      return new SASRec(config, rng);
    case 'bert4rec':
      return new BERT4Rec(config, rng);
    case 'gru4rec':
      return new GRU4Rec(config, rng);
  }
}
