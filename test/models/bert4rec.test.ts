import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { BERT4Rec } from '../../src/models/bert4rec.js';
import { createEncoder } from '../../src/models/encoders.js';
import { Rng, backward, noGrad, softmaxCrossEntropy } from '../../src/tensor/index.js';
import {
  assertDropoutOnlyWhileTraining, assertPaddingChangesNothing, assertUserVectorsIndependent, earlierPositionsUnchanged, randomizeParameters,
} from '../helpers/encoders.js';

const MAX_LEN = 12;
const NUM_ITEMS = 30;
const config = ModelConfigSchema.parse({ backbone: 'bert4rec', numItems: NUM_ITEMS, dim: 8, heads: 2, maxLen: MAX_LEN, dropout: 0.3 });
const MASK = NUM_ITEMS + 1;

const randomModel = () => randomizeParameters(new BERT4Rec(config, new Rng(4)));

const rng = new Rng(21);
// Some inputs are the mask token, as in training batches.
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, (_, i) => (i === 1 ? MASK : rng.int(1, NUM_ITEMS + 1))));

describe('BERT4Rec', () => {
  it('has the published shape by default: dim 64, 2 layers, 2 heads, dropout 0.1, the masked objective', () => {
    const d = ModelConfigSchema.parse({ backbone: 'bert4rec', numItems: 10 });
    assert.deepEqual([d.dim, d.layers, d.heads, d.dropout, d.objective], [64, 2, 2, 0.1, 'masked']);
    const s = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10 });
    assert.deepEqual([s.heads, s.objective], [1, 'causal'], 'sasrec keeps its own defaults');
  });

  it('is built by createEncoder and names its parameters as checkpoint keys', () => {
    const model = createEncoder(config, new Rng(1));
    assert.ok(model instanceof BERT4Rec);
    const names = model.parameters().map((p) => p.name);
    for (const n of ['items.weight', 'positions.weight', 'block.0.attention.query.weight', 'block.1.ff2.bias', 'block.1.ln2.gamma',
      'final_norm.beta', 'output.projection.weight', 'output.norm.gamma', 'output.bias']) {
      assert.ok(names.includes(n), n);
    }
  });

  it('ties the softmax to the item embedding without the mask-token row, with a per-item bias', () => {
    const model = randomModel();
    assert.equal(model.items.ids!.weight.shape[0], NUM_ITEMS + 2, 'the input table has a mask-token row');
    assert.deepEqual(model.outputWeight.shape, [NUM_ITEMS + 1, 8]);
    assert.deepEqual(model.outputBias!.shape, [NUM_ITEMS + 1]);
    assert.equal(model.outputWeight.data.buffer, model.items.ids!.weight.data.buffer, 'shared, not copied');
    // The softmax's gradient reaches the item rows it scores and never the mask token's row.
    const h = model.hiddenRows(Int32Array.from([0, 4, MASK, 7]), 1, 4);
    backward(softmaxCrossEntropy(h, model.outputWeight, model.outputBias, Int32Array.from([0, 0, 5, 0])));
    const g = model.items.ids!.weight.grad!;
    const row = (r: number) => g.subarray(r * 8, (r + 1) * 8);
    assert.ok(row(12).some((x) => x !== 0), 'an item row the softmax scored');
    assert.ok(row(MASK).some((x) => x !== 0), 'the mask token row gets its gradient as an input');
    model.items.ids!.weight.grad = null;
    const hNoMask = model.hiddenRows(Int32Array.from([0, 4, 9, 7]), 1, 4);
    backward(softmaxCrossEntropy(hNoMask, model.outputWeight, model.outputBias, Int32Array.from([0, 0, 5, 0])));
    assert.ok(model.items.ids!.weight.grad!.subarray(MASK * 8).every((x) => x === 0), 'no gradient from the output side to the mask row');
  });

  it('is bidirectional: changing a later item changes earlier positions', () => {
    assert.equal(earlierPositionsUnchanged(randomModel(), Int32Array.from([0, 0, 4, 9, 2, 17, 5, 8]), 6, 23), false);
  });

  it('reads padding as absent: a padding-only prefix changes nothing at real positions (float tolerance)', () => {
    assertPaddingChangesNothing(randomModel(), windows);
  });

  it('a user vector does not depend on the other histories in its batch; it is read at a trailing mask token', () => {
    const model = randomModel();
    assertUserVectorsIndependent(model, windows);
    const h = Int32Array.from([4, 9, 2]);
    const read = noGrad(() => model.userVectors([h]).data);
    const direct = noGrad(() => model.hidden(Int32Array.from([4, 9, 2, MASK]), 1, 4).data.subarray(3 * 8));
    assert.deepEqual(read, direct);
  });

  it('applies dropout while training (a new mask each call) and none without a graph', () => {
    assertDropoutOnlyWhileTraining(randomModel());
  });

  it('refuses the causal objective, heads that do not divide dim, and sequences longer than its positions', () => {
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'bert4rec', numItems: 10, objective: 'causal' }),
      /the causal objective does not fit bert4rec, a bidirectional model: it trains on masked items only/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'bert4rec', numItems: 10, dim: 64, heads: 3 }), /3 attention heads do not divide dim 64/);
    assert.throws(() => randomModel().hidden(new Int32Array(13).fill(1), 1, 13), /13 positions exceed the positional table \(max-len 12\)/);
  });
});
