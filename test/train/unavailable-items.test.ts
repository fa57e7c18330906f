import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { createEncoder } from '../../src/models/encoders.js';
import { Adam, Rng, backward, noGrad } from '../../src/tensor/index.js';
import { SoftmaxOptions, sequenceBatch, sequenceLoss, unavailableItems } from '../../src/train/objectives.js';

/** Items 10..12 of 12 are left out of the loss; the windows use items 1..9 only. */
const NUM_ITEMS = 12;
const LEFT_OUT = [10, 11, 12];
const DIM = 8;

function setup() {
  const config = ModelConfigSchema.parse({ numItems: NUM_ITEMS, dim: DIM, blocks: 1, maxLen: 5 });
  const model = createEncoder(config, new Rng(4));
  const windows = [[1, 2, 3, 4, 5, 6], [7, 8, 9], [2, 4, 6, 8]].map((w) => Int32Array.from(w));
  const batch = sequenceBatch(model, windows, new Rng(1));
  const flags = new Uint8Array(NUM_ITEMS + 1);
  for (const v of LEFT_OUT) flags[v] = 1;
  return { model, batch, flags };
}

describe('items left out of the training softmax (items that arrive after training)', () => {
  it('the loss is the cross-entropy over the other items only', () => {
    const { model, batch, flags } = setup();
    const softmax = (unavailable: SoftmaxOptions['unavailable']): SoftmaxOptions => ({ negatives: 0, sampler: null, unavailable });
    const loss = noGrad(() => sequenceLoss(model, batch, softmax(unavailableItems(flags)), new Rng(1)).loss()).data[0]!;
    const full = noGrad(() => sequenceLoss(model, batch, softmax(null), new Rng(1)).loss()).data[0]!;
    const h = noGrad(() => model.hiddenRows(batch.inputs, batch.size, batch.length)).data;
    const table = model.outputWeight.data;
    const bias = model.outputBias?.data;
    let expected = 0;
    let n = 0;
    batch.targets.forEach((target, j) => {
      if (target === 0) return;
      const logits = Array.from({ length: NUM_ITEMS + 1 }, (_, v) => Array.from({ length: DIM }, (_, c) => h[j * DIM + c]! * table[v * DIM + c]!)
        .reduce((s, x) => s + x, bias?.[v] ?? 0));
      const kept = logits.filter((_, v) => flags[v] === 0);
      const max = Math.max(...kept);
      expected += max + Math.log(kept.reduce((s, l) => s + Math.exp(l - max), 0)) - logits[target]!;
      n++;
    });
    expected /= n;
    assert.ok(Math.abs(loss - expected) < 1e-4, `${loss} vs ${expected}`);
    assert.ok(full - loss > 1e-3, `leaving items out lowers the loss (${full} vs ${loss})`);
  });

  for (const [name, softmax] of [
    ['full softmax', { negatives: 0, sampler: null }],
    ['bce (one uniform negative per position)', { negatives: 0, sampler: null, loss: 'bce' as const }],
  ] as const) {
    it(`${name}: the items left out get no gradient, the others do`, () => {
      const { model, batch, flags } = setup();
      backward(sequenceLoss(model, batch, { ...softmax, unavailable: unavailableItems(flags) }, new Rng(2)).loss());
      const weight = model.parameters().find((p) => p.name === 'output.weight')!;
      for (const v of LEFT_OUT) assert.ok(weight.grad!.subarray(v * DIM, (v + 1) * DIM).every((g) => g === 0), `item ${v} has a gradient`);
      assert.ok(weight.grad!.subarray(DIM, 10 * DIM).some((g) => g !== 0));
      // The offset passes through the row-sparse output bias: the lazy optimizer must still update its rows.
      const bias = model.parameters().find((p) => p.name === 'output.bias')!;
      const before = Float32Array.from(bias.data);
      new Adam([weight, bias], { lr: 0.1 }).step();
      assert.ok(Array.from(bias.data.subarray(1, 10)).some((v, i) => v !== before[i + 1]), 'the available items\' biases moved');
      assert.deepEqual(Array.from(bias.data.subarray(10)), Array.from(before.subarray(10)), 'the items left out kept theirs');
      // Without the offset, the same loss reaches the items left out (so the check above can fail).
      const fresh = setup();
      backward(sequenceLoss(fresh.model, fresh.batch, softmax, new Rng(2)).loss());
      const grad = fresh.model.parameters().find((p) => p.name === 'output.weight')!.grad!;
      assert.ok(grad.subarray(10 * DIM).some((g) => g !== 0));
    });
  }
});
