import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { batchLength, causalBatch, maskedBatch } from '../../src/data/batches.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng, backward, noGrad, softmaxCrossEntropy } from '../../src/tensor/index.js';
import { assertClose } from '../helpers/gradcheck.js';

/**
 * A batch padded only to its own longest window computes the same as the same windows padded to maxLen: the
 * model reads left padding as zeros. Checked on a model whose every parameter (the padding embedding, biases,
 * LayerNorm shifts) is random and non-zero, so padding that leaked into real positions would show.
 */
const MAX_LEN = 12;

function randomModel(objective: 'causal' | 'masked'): NextItNet {
  const model = new NextItNet(ModelConfigSchema.parse({ numItems: 30, dim: 8, blocks: 3, maxLen: MAX_LEN, objective }), new Rng(4));
  const rng = new Rng(9);
  for (const p of model.parameters()) rng.fillUniform(p.data, -0.5, 0.5);
  return model;
}

const rng = new Rng(21);
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, () => rng.int(1, 31)));

for (const objective of ['causal', 'masked'] as const) {
  describe(`${objective} NextItNet over batches sized by length`, () => {
    const model = randomModel(objective);
    const batchAt = (length: number) => (objective === 'causal'
      ? causalBatch(windows, length)
      : maskedBatch(windows, length, { probability: 0.4, maskToken: model.maskToken, numItems: 30 }, new Rng(3)));
    const short = batchAt(batchLength(windows, objective, MAX_LEN));
    const full = batchAt(MAX_LEN);

    it('pads to the longest window only', () => {
      assert.equal(short.length, objective === 'causal' ? 6 : 7);
    });

    it('gives the same hidden states at every real position as padding to maxLen', () => {
      const [hs, hf] = noGrad(() => [model.hidden(short.inputs, short.size, short.length).data, model.hidden(full.inputs, full.size, full.length).data]);
      const C = model.config.dim;
      for (let b = 0; b < windows.length; b++) {
        const real = objective === 'causal' ? windows[b]!.length - 1 : windows[b]!.length;
        const rowShort = hs.subarray((b * short.length + short.length - real) * C, (b + 1) * short.length * C);
        const rowFull = hf.subarray((b * full.length + full.length - real) * C, (b + 1) * full.length * C);
        assertClose(rowShort, rowFull, 1e-5, `sequence ${b}`);
      }
    });

    it('gives the same loss and parameter gradients as padding to maxLen', () => {
      const grads = (batch: typeof short) => {
        for (const p of model.parameters()) p.grad = null;
        const h = model.hiddenRows(batch.inputs, batch.size, batch.length);
        const loss = softmaxCrossEntropy(h, model.outputWeight, model.outputBias, batch.targets);
        backward(loss);
        return { loss: loss.item(), grads: model.parameters().map((p) => p.grad!.slice()) };
      };
      const a = grads(short), b = grads(full);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * Math.abs(b.loss), `${a.loss} vs ${b.loss}`);
      model.parameters().forEach((p, i) => assertClose(a.grads[i]!, b.grads[i]!, 1e-4, p.name));
    });

    it('user vectors do not depend on how much padding their rows carry', () => {
      const histories = windows.map((w) => w.subarray(0, w.length - 1));
      const together = noGrad(() => model.userVectors(histories).data);
      histories.forEach((h, u) => {
        const alone = noGrad(() => model.userVectors([h]).data);
        assertClose(alone, together.subarray(u * 8, (u + 1) * 8), 1e-5, `user ${u}`);
      });
    });
  });
}
