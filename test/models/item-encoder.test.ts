import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKBONES, ModelConfigSchema } from '../../src/config/schema.js';
import { ModelError } from '../../src/errors.js';
import { createEncoder, forItemCatalogue, withAddedItems } from '../../src/models/encoders.js';
import { inputRows } from '../../src/models/input-rows.js';
import { ItemEncoder, ItemTokens } from '../../src/models/item-encoder.js';
import {
  Adam, Rng, Tensor, backward, noGrad, noteParameterWrite, scale, scratchScope, softmaxCrossEntropy,
} from '../../src/tensor/index.js';
import { gradCheck } from '../helpers/gradcheck.js';

/** Padding (no tokens) and 4 items over 11 buckets; items 2 and 4 share tokens, item 3 has one token. */
const TOKENS: ItemTokens = { offsets: Int32Array.from([0, 0, 3, 5, 6, 9]), tokens: Int32Array.from([0, 4, 7, 2, 4, 10, 2, 4, 9]) };

/** TOKENS followed by `added`'s rows. */
function appendedTokens(added: ItemTokens): ItemTokens {
  const end = TOKENS.tokens.length;
  return {
    offsets: Int32Array.from([...TOKENS.offsets, ...Array.from(added.offsets.subarray(1), (o) => end + o)]),
    tokens: Int32Array.from([...TOKENS.tokens, ...added.tokens]),
  };
}

function config(extra: Record<string, unknown> = {}) {
  return ModelConfigSchema.parse({ numItems: 4, dim: 4, blocks: 1, maxLen: 6, itemEncoder: 'text', textBuckets: 11, layerNormEps: 1e-5, ...extra });
}

/** float64 reference of every row: LayerNorm(W · mean(token rows) + b). */
function referenceRows(tokenTable: Float64Array, w: Float64Array, b: Float64Array, gamma: Float64Array, beta: Float64Array,
  dim: number, eps: number): Float64Array {
  const rows = TOKENS.offsets.length - 1;
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const start = TOKENS.offsets[r]!;
    const end = TOKENS.offsets[r + 1]!;
    const bag = new Float64Array(dim);
    for (let j = start; j < end; j++) for (let c = 0; c < dim; c++) bag[c]! += tokenTable[TOKENS.tokens[j]! * dim + c]! / (end - start);
    const y = Float64Array.from(b);
    for (let i = 0; i < dim; i++) for (let o = 0; o < dim; o++) y[o]! += bag[i]! * w[i * dim + o]!;
    const mean = y.reduce((s, v) => s + v, 0) / dim;
    const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
    for (let c = 0; c < dim; c++) out[r * dim + c] = gamma[c]! * (y[c]! - mean) / Math.sqrt(variance + eps) + beta[c]!;
  }
  return out;
}

describe('item encoder', () => {
  it('text: LN(W · mean of token vectors + b) with gradients into the token table, projection and norm (finite differences)', () => {
    const rng = new Rng(3);
    const items = new ItemEncoder(config(), new Rng(1), TOKENS);
    const text = items.text!;
    // Larger than the init scale so that the LayerNorm is far from degenerate and every input moves the output.
    for (const p of text.parameters()) rng.fillUniform(p.data, -1, 1);
    const inputs = [text.tokens.weight, text.projection.weight, text.projection.bias!, text.norm.gamma, text.norm.beta];
    gradCheck(rng, {
      inputs,
      kernel: () => items.table(),
      reference: ([t, w, b, g, be]) => referenceRows(t!, w!, b!, g!, be!, 4, 1e-5),
      gradTol: 5e-3,
    });
    const touched = new Set(TOKENS.tokens);
    const grad = text.tokens.weight.grad!;
    for (let row = 0; row < 12; row++) {
      const norm = grad.subarray(row * 4, row * 4 + 4).reduce((s, v) => s + Math.abs(v), 0);
      assert.equal(norm > 0, touched.has(row), `token row ${row}: gradient only where some item has the token`);
    }
  });

  it('tied softmax: a text model has no per-item parameter; the loss gradient reaches the token table through the table and the inputs', () => {
    const model = createEncoder(config(), new Rng(2), TOKENS);
    const names = model.parameters().map((p) => p.name);
    assert.ok(names.includes('item_text.tokens.weight') && names.includes('item_text.projection.weight'));
    assert.ok(!names.some((n) => n.startsWith('items.') || n.startsWith('output.')), names.join(', '));
    assert.equal(model.outputBias, null);
    const ids = Int32Array.from([0, 1, 2, 3]);
    const targets = Int32Array.from([0, 2, 3, 4]);
    const loss = (): Tensor => softmaxCrossEntropy(model.hiddenRows(ids, 1, 4), model.outputWeight, model.outputBias, targets);
    scratchScope(() => {
      assert.equal(model.outputWeight, model.outputWeight, 'one encoded table per training step');
      backward(loss());
    });
    // Central differences of the whole loss in token-table entries of an item that is an input and a target
    // (token 10: item 3 only) and of a token three items share (token 4).
    const table = model.parameterMap().get('item_text.tokens.weight')!;
    const lossValue = () => noGrad(() => loss().item());
    for (const index of [10 * 4 + 1, 4 * 4 + 2]) {
      const keep = table.data[index]!;
      const h = 1e-3;
      table.data[index] = keep + h;
      noteParameterWrite();
      const up = lossValue();
      table.data[index] = keep - h;
      noteParameterWrite();
      const down = lossValue();
      table.data[index] = keep;
      noteParameterWrite();
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(table.grad![index]! - numeric) <= 3e-2 * Math.abs(numeric) + 1e-3,
        `token table entry ${index}: analytic ${table.grad![index]} vs numeric ${numeric}`);
      assert.ok(Math.abs(numeric) > 1e-6, 'the entry moves the loss');
    }
  });

  it('without a graph the encoded table is computed once and recomputed after an optimizer step', () => {
    const model = createEncoder(config(), new Rng(2), TOKENS);
    const first = noGrad(() => model.outputWeight);
    assert.equal(noGrad(() => model.outputWeight), first, 'cached');
    const before = Float32Array.from(first.data);
    const optimizer = new Adam(model.parameters(), { lr: 0.1 });
    scratchScope(() => {
      backward(softmaxCrossEntropy(model.hiddenRows(Int32Array.from([1, 2]), 1, 2), model.outputWeight, null, Int32Array.from([2, 3])));
      optimizer.step();
    });
    const after = noGrad(() => model.outputWeight);
    // Two losses with a backward each in one step: the second encodes the items again instead of reusing a
    // released graph.
    scratchScope(() => {
      for (let i = 0; i < 2; i++) backward(softmaxCrossEntropy(model.hiddenRows(Int32Array.from([1]), 1, 1), model.outputWeight, null, Int32Array.from([2])));
    });
    assert.notEqual(after, first);
    assert.ok(after.data.some((v, i) => v !== before[i]), 'the new table reflects the update');
  });

  it('id+text sums an id row and the text vector; masked models get a mask-token row of their own', () => {
    const both = createEncoder(config({ itemEncoder: 'id+text' }), new Rng(2), TOKENS);
    const idOnly = both.items.ids!.forward(Int32Array.from([3]), [1]).data;
    const textOnly = both.items.text!.encodeAll().data.subarray(3 * 4, 4 * 4);
    const sum = both.items.forward(Int32Array.from([3]), [1]).data;
    sum.forEach((v, c) => assert.ok(Math.abs(v - idOnly[c]! - textOnly[c]!) < 1e-6));

    const masked = createEncoder(config({ objective: 'masked' }), new Rng(2), TOKENS);
    assert.deepEqual(masked.outputWeight.shape, [5, 4], 'the softmax covers padding + items only');
    const mask = masked.items.forward(Int32Array.from([masked.maskToken]), [1]).data;
    const padding = masked.items.forward(Int32Array.from([0]), [1]).data;
    assert.ok(mask.some((v, c) => Math.abs(v - padding[c]!) > 1e-4), 'the mask token is not the empty text');
  });

  it('text vectors start at textInitScale per dimension (the LayerNorm gain); id rows at 0.02 whatever it is', () => {
    const rms = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    for (const scale of [1, 0.02]) {
      // An epsilon far below the variance of the initial projections (~1e-7 here), as in a real model's 1e-8.
      const items = new ItemEncoder(config({ itemEncoder: 'id+text', textInitScale: scale, layerNormEps: 1e-14 }), new Rng(5), TOKENS);
      // Rows 1..4 (padding has no tokens); a LayerNorm output has unit variance per row before the gain.
      const text = items.text!.encodeAll().data.subarray(4, 5 * 4);
      assert.ok(Math.abs(rms(text) / scale - 1) < 1e-3, `text vectors at ${rms(text)}, asked ${scale}`);
      const ids = items.ids!.weight.data.subarray(4, 5 * 4);
      assert.ok(rms(ids) > 0.005 && rms(ids) < 0.04, `id rows at ${rms(ids)}`);
    }
  });

  for (const backbone of BACKBONES) {
    it(`${backbone}: text items leave no per-item parameter, and one training step moves the token table`, () => {
      const objective = backbone === 'bert4rec' ? 'masked' : 'causal';
      const model = createEncoder(config({ backbone, objective, dim: 8, maxLen: 7 }), new Rng(2), TOKENS);
      for (const p of model.parameters()) assert.ok(p.shape[0] !== 5 && p.shape[0] !== 6, `${p.name} ${JSON.stringify(p.shape)} looks per-item`);
      assert.deepEqual(model.outputWeight.shape, [5, 8]);
      const tokens = model.items.text!.tokens.weight;
      const before = Float32Array.from(tokens.data);
      const optimizer = new Adam(model.parameters(), { lr: 0.01 });
      const ids = objective === 'masked' ? Int32Array.from([1, model.maskToken, 3]) : Int32Array.from([1, 2, 3]);
      scratchScope(() => {
        backward(softmaxCrossEntropy(model.hiddenRows(ids, 1, 3), model.outputWeight, model.outputBias, Int32Array.from([0, 2, 4])));
        optimizer.step();
      });
      assert.ok(tokens.data.some((v, i) => v !== before[i]), 'the token table was updated');
    });
  }

  for (const [backbone, objective] of [['sasrec', 'causal'], ['bert4rec', 'masked']] as const) {
    it(`${backbone} (${objective}): new items by text share the weights and encode only themselves, row for row a full re-encode`, () => {
      const rng = new Rng(5);
      const model = createEncoder(config({ backbone, objective, dim: 8, maxLen: 7 }), new Rng(2), TOKENS);
      // Larger than the init scale, so that every row — padding, items, mask — differs from the others.
      for (const p of model.parameters()) rng.fillUniform(p.data, -1, 1);
      noteParameterWrite();
      const added: ItemTokens = { offsets: Int32Array.from([0, 2, 3, 6]), tokens: Int32Array.from([1, 5, 10, 3, 6, 8]) };
      const extended = withAddedItems(model, added);
      const all = appendedTokens(added);
      const reference = forItemCatalogue(model, 7, all);
      assert.deepEqual(extended.items.itemTokens, all);
      const weights = model.parameterMap();
      for (const p of extended.parameters()) assert.equal(p.data, weights.get(p.name)!.data, `${p.name} is shared, not copied`);

      const own = noGrad(() => Float32Array.from(model.outputWeight.data));
      // The fast path must not fall back to encoding the whole catalogue.
      extended.items.text!.encodeAll = () => assert.fail('re-encoded every item');
      const rows = inputRows(extended.config);
      assert.equal(rows, objective === 'masked' ? 9 : 8);
      const ids = Int32Array.from({ length: rows }, (_, i) => i);
      const fast = noGrad(() => extended.items.forward(ids, [rows]).data);
      const full = noGrad(() => reference.items.forward(ids, [rows]).data);
      assert.equal(fast.length, full.length);
      fast.forEach((v, i) => assert.ok(Math.abs(v - full[i]!) < 1e-6, `row ${Math.floor(i / 8)}: ${v} vs ${full[i]}`));
      assert.deepEqual(fast.subarray(0, own.length), own, 'the own items are the base\'s cached vectors');
      assert.deepEqual(noGrad(() => extended.outputWeight.shape), [8, 8], 'the softmax: padding + 4 own + 3 new items, no mask row');
      const history = [Int32Array.from([1, 6, 3])];
      const users = noGrad(() => extended.userVectors(history).data);
      noGrad(() => reference.userVectors(history).data).forEach((v, c) => assert.ok(Math.abs(v - users[c]!) < 1e-5));
    });
  }

  it('an extended catalogue with its own text patch encodes all its items again', () => {
    const model = createEncoder(config(), new Rng(2), TOKENS);
    const added: ItemTokens = { offsets: Int32Array.from([0, 2]), tokens: Int32Array.from([1, 5]) };
    const extended = withAddedItems(model, added);
    const reference = forItemCatalogue(model, 5, appendedTokens(added));
    const patch = { projected: (x: Tensor) => scale(x, -2) };
    extended.items.setTextPatch(patch);
    reference.items.setTextPatch(patch);
    assert.equal(model.items.text!.patch, null, 'the patch is the copy\'s only');
    noGrad(() => model.outputWeight);
    const fast = noGrad(() => extended.outputWeight.data);
    noGrad(() => reference.outputWeight.data).forEach((v, i) => assert.ok(Math.abs(v - fast[i]!) < 1e-6));

    const outside: ItemTokens = { offsets: Int32Array.from([0, 1]), tokens: Int32Array.from([11]) };
    assert.throws(() => withAddedItems(model, outside), /token id 11 outside the model's 11 buckets/);
    const idModel = createEncoder(config({ itemEncoder: 'id' }), new Rng(2));
    assert.throws(() => withAddedItems(idModel, added), /a id item encoder cannot take new items by their text/);
  });

  it('refuses to build a text encoder without item tokens, or with tokens outside its buckets', () => {
    assert.throws(() => createEncoder(config(), new Rng(1)), (e) => e instanceof ModelError && /needs item text.*--item-text/.test(e.message));
    assert.throws(() => createEncoder(config({ textBuckets: 8 }), new Rng(1), TOKENS), /token id 10 outside the model's 8 buckets/);
    assert.throws(() => ModelConfigSchema.parse({ numItems: 4, itemEncoder: 'text' }), /needs textBuckets/);
  });
});
