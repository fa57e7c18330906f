import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { createEncoder } from '../../src/models/encoders.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Rng } from '../../src/tensor/index.js';
import { graftPatches } from '../../src/transfer/insertion.js';
import {
  assertDropoutOnlyWhileTraining, assertPaddingChangesNothing, assertUserVectorsIndependent, earlierPositionsUnchanged, randomizeParameters,
} from '../helpers/encoders.js';

const MAX_LEN = 12;
const config = ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 30, dim: 8, maxLen: MAX_LEN });

const randomModel = () => randomizeParameters(new GRU4Rec(config, new Rng(4)));

const rng = new Rng(21);
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, () => rng.int(1, 31)));

describe('GRU4Rec', () => {
  it('has RecBole-like defaults: dim 64, 1 layer, dropout 0.25; sasrec keeps its own', () => {
    const d = ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 10 });
    assert.deepEqual([d.dim, d.layers, d.dropout], [64, 1, 0.25]);
    const s = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10 });
    assert.deepEqual([s.dim, s.layers, s.dropout], [50, 2, 0.5]);
  });

  it('is built by createEncoder, names its parameters and ties the softmax to the item embedding', () => {
    const model = createEncoder(ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 30, dim: 8, layers: 2 }), new Rng(1));
    assert.ok(model instanceof GRU4Rec);
    assert.deepEqual(model.parameters().map((p) => p.name), ['items.weight', 'gru.0.input.weight', 'gru.0.input.bias',
      'gru.0.hidden.weight', 'gru.0.hidden.bias', 'gru.1.input.weight', 'gru.1.input.bias', 'gru.1.hidden.weight', 'gru.1.hidden.bias']);
    assert.equal(model.outputWeight, model.items.ids!.weight);
    assert.equal(model.outputBias, null);
  });

  it('is causal: changing a later item leaves every earlier position bit-identical', () => {
    assert.ok(earlierPositionsUnchanged(randomModel(), Int32Array.from([0, 0, 4, 9, 2, 17, 5, 8]), 6, 23));
  });

  it('reads padding as absent: extra left padding changes nothing at real positions (float tolerance)', () => {
    assertPaddingChangesNothing(randomModel(), windows);
  });

  it('a user vector does not depend on the other histories in its batch', () => {
    assertUserVectorsIndependent(randomModel(), windows);
  });

  it('applies dropout while training (a new mask each call) and none without a graph', () => {
    assertDropoutOnlyWhileTraining(randomModel());
  });

  it('refuses the masked objective and patch insertion with errors naming the backbone', () => {
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 10, objective: 'masked' }), /masked objective needs the nextitnet or bert4rec backbone \(gru4rec is causal\)/);
    assert.throws(() => graftPatches(randomModel(), null, new Rng(1)), /a gru4rec model has no insertion points for patches/);
    assert.throws(() => graftPatches(randomModel(), 'serial-each-sublayer', new Rng(1)), /a gru4rec model has no insertion points/);
  });
});
