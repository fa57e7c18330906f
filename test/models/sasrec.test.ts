import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { SASRec } from '../../src/models/sasrec.js';
import { Rng } from '../../src/tensor/index.js';
import {
  assertDropoutOnlyWhileTraining, assertPaddingChangesNothing, assertUserVectorsIndependent, earlierPositionsUnchanged, randomizeParameters,
} from '../helpers/encoders.js';

const MAX_LEN = 12;
const config = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 30, dim: 8, layers: 2, heads: 2, maxLen: MAX_LEN, dropout: 0.3 });

const randomModel = () => randomizeParameters(new SASRec(config, new Rng(4)));

const rng = new Rng(21);
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, () => rng.int(1, 31)));

describe('SASRec', () => {
  it('has the published Games shape by default: dim 50, 2 layers, 1 head, dropout 0.5, max-len 50', () => {
    const d = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10 });
    assert.deepEqual([d.dim, d.layers, d.heads, d.dropout, d.maxLen], [50, 2, 1, 0.5, 50]);
    assert.equal(ModelConfigSchema.parse({ numItems: 10 }).dim, 64, 'nextitnet keeps its own default');
  });

  it('names its parameters as checkpoint keys and ties the softmax to the item embedding', () => {
    const model = new SASRec(config, new Rng(1));
    const names = model.parameters().map((p) => p.name);
    for (const n of ['items.weight', 'positions.weight', 'block.0.attention.query.weight', 'block.1.ff2.bias', 'block.1.ln2.gamma', 'final_norm.beta']) {
      assert.ok(names.includes(n), n);
    }
    assert.equal(model.outputWeight, model.items.ids!.weight);
    assert.equal(model.outputBias, null);
  });

  it('is causal: changing a later item leaves every earlier position bit-identical', () => {
    assert.ok(earlierPositionsUnchanged(randomModel(), Int32Array.from([0, 0, 4, 9, 2, 17, 5, 8]), 6, 23));
  });

  it('reads padding as absent: a batch padded to its longest window equals padding to max-len at every real position', () => {
    assertPaddingChangesNothing(randomModel(), windows);
  });

  it('a user vector does not depend on the other histories in its batch', () => {
    assertUserVectorsIndependent(randomModel(), windows);
  });

  it('applies dropout while training (a new mask each call) and none without a graph', () => {
    assertDropoutOnlyWhileTraining(randomModel());
  });

  it('refuses sequences longer than its positional table, heads that do not divide dim, and the masked objective', () => {
    const model = randomModel();
    assert.throws(() => model.hidden(new Int32Array(13).fill(1), 1, 13), /13 positions exceed the positional table \(max-len 12\)/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, dim: 50, heads: 3 }), /3 attention heads do not divide dim 50/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, objective: 'masked' }), /masked objective needs the nextitnet or bert4rec backbone \(sasrec is causal\)/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, dropout: 1 }), /dropout must be in \[0, 1\)/);
  });
});
