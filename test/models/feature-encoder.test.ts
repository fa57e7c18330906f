import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, ModelConfigSchema, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { leaveOneOutSplit, itemCounts } from '../../src/data/split.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { FeatureItemEncoder } from '../../src/models/feature-encoder.js';
import { forItemCatalogue } from '../../src/models/encoders.js';
import { Rng } from '../../src/tensor/index.js';
import { datasetItemSide, loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { tempDir } from '../helpers/datasets.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { TOPICS, catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli } from '../helpers/cli.js';

describe('features item encoder: the mixture-of-experts adaptor', () => {
  it('gradients of experts, gate and LayerNorm match finite differences of a float64 reference', () => {
    const rng = new Rng(3);
    const [rows, F, K, dim] = [5, 6, 3, 4];
    const vectors = new Float32Array(rows * F);
    rng.fillUniform(vectors.subarray(F), -1, 1); // row 0 (padding) stays zero
    const config = ModelConfigSchema.parse({ numItems: rows - 1, dim, blocks: 1, maxLen: 4, itemEncoder: 'features', featureDim: F, featureExperts: K, layerNormEps: 1e-5 });
    const enc = new FeatureItemEncoder('f', config, { dim: F, vectors }, rng);
    rng.fillUniform(enc.norm.gamma.data, 0.5, 1.5);
    rng.fillUniform(enc.norm.beta.data, -0.5, 0.5);
    rng.fillUniform(enc.experts.bias!.data, -0.5, 0.5);
    gradCheck(rng, {
      inputs: [enc.experts.weight, enc.experts.bias!, enc.gate.weight, enc.norm.gamma, enc.norm.beta],
      kernel: () => enc.encodeAll(),
      reference: ([W, c, G, gamma, beta]) => {
        const out = new Float64Array(rows * dim);
        for (let r = 0; r < rows; r++) {
          const x = Array.from(vectors.subarray(r * F, (r + 1) * F));
          const z = Array.from({ length: K }, (_, k) => x.reduce((s, v, f) => s + v * G![f * K + k]!, 0));
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((a, b) => a + b, 0);
          const mixed = Array.from({ length: dim }, (_, j) => e.reduce((s, g, k) =>
            s + (g / sum) * (c![k * dim + j]! + x.reduce((t, v, f) => t + v * W![f * K * dim + k * dim + j]!, 0)), 0));
          const mean = mixed.reduce((a, b) => a + b, 0) / dim;
          const variance = mixed.reduce((a, b) => a + (b - mean) ** 2, 0) / dim;
          mixed.forEach((v, j) => (out[r * dim + j] = ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma![j]! + beta![j]!));
        }
        return out;
      },
    });
  });

  it('refuses vectors of another length, and the masked objective', () => {
    const config = ModelConfigSchema.parse({ numItems: 2, dim: 4, blocks: 1, maxLen: 4, itemEncoder: 'features', featureDim: 3 });
    assert.throws(() => new FeatureItemEncoder('f', config, { dim: 2, vectors: new Float32Array(6) }, new Rng(1)), /vectors of 2 floats, the model reads 3/);
    assert.throws(() => ModelConfigSchema.parse({ numItems: 2, itemEncoder: 'features' }), /needs featureDim/);
    assert.throws(() => ModelConfigSchema.parse({ numItems: 2, itemEncoder: 'features', featureDim: 3, objective: 'masked' }), /no mask-token vector/);
  });
});

/** Item vectors made "elsewhere": the item's topic one-hot, plus noise dimensions. */
function vectorsFor(texts: readonly string[], rng: Rng): string[] {
  return texts.map((t) => JSON.stringify([...TOPICS.map((topic) => (t.includes(topic) ? 1 : 0)), ...Array.from({ length: 4 }, () => Math.round(rng.uniform() * 100) / 100)]));
}

describe('features item encoder: ingest, pretrain, transfer to a fresh catalogue', () => {
  const quiet = { progress: { start() {}, update() {}, stop() {} } };

  it('a model trained on one catalogue\'s vectors ranks a fresh catalogue with vectors from the same model far above popularity', async () => {
    const dir = tempDir();
    const rng = new Rng(9);
    const seen = catalogue(1, 240);
    const fresh = catalogue(2, 240);
    const write = (data: typeof seen, prefix: string) => {
      const { log } = writeCatalogue(dir, data, prefix);
      const vectors = join(dir, `${prefix}vectors.jsonl`);
      writeFileSync(vectors, vectorsFor(data.texts, rng).map((v, k) => JSON.stringify({ item: `${prefix}${k + 1}`, vector: JSON.parse(v) })).join('\n') + '\n');
      return { log, vectors };
    };
    const a = write(seen, 'a');
    const b = write(fresh, 'b');
    await ingest({ input: a.log, out: join(dir, 'seen'), itemFeatures: a.vectors });
    await ingest({ input: b.log, out: join(dir, 'fresh'), itemFeatures: b.vectors });
    const out = join(dir, 'model');
    await pretrain({
      data: join(dir, 'seen'), out, model: { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6, itemEncoder: 'features' },
      train: { ...TRAIN_DEFAULTS, epochs: 12, batch: 32, lr: 0.01, patience: 12 }, ...quiet,
    });
    const loaded = await loadModelDir(out);
    assert.equal(loaded.config.model.featureDim, TOPICS.length + 4);

    const other = await loadDataset(join(dir, 'fresh'));
    const model = forItemCatalogue(loaded.model, other.meta.numItems, datasetItemSide(other, 'features')!);
    const split = leaveOneOutSplit(other);
    const r = evaluateNextItem(model, split.test, itemCounts(split.train, other.meta.numItems), { ks: [10], maskHistory: false });
    assert.ok(r.metrics['HR@10']! > 0.7 && r.metrics['HR@10']! > 2 * r.popularity!['HR@10']!, JSON.stringify(r.metrics) + JSON.stringify(r.popularity));

    const evaluated = spawnSync(process.execPath, [cli, 'evaluate', '--model', out, '--data', join(dir, 'seen'), '--k', '10', '--json'], { encoding: 'utf8' });
    assert.equal(evaluated.status, 0, evaluated.stderr);
  });

  it('bad vector tables: another length, a non-finite value, a duplicate, a missing item, no item column — one line, exit 1, nothing written', async () => {
    const dir = tempDir();
    const { log } = writeCatalogue(dir, catalogue(1, 30), 'a');
    const items = new Set<string>();
    for (const line of (await import('node:fs')).readFileSync(log, 'utf8').trim().split('\n').slice(1)) items.add(line.split('\t')[1]!);
    const ids = [...items];
    const table = (rows: string[]) => {
      const file = join(dir, `v${Math.random().toString(36).slice(2)}.jsonl`);
      writeFileSync(file, rows.join('\n') + '\n');
      return file;
    };
    const good = ids.map((id) => `{"item": "${id}", "vector": [1, 2, 3]}`);
    const cases: [string[], RegExp][] = [
      [[...good.slice(1), `{"item": "${ids[0]}", "vector": [1, 2]}`], /has 2 values, earlier rows 3/],
      [[...good.slice(1), `{"item": "${ids[0]}", "vector": [1, 2, 1e999]}`], /not a finite number/],
      [[...good, good[0]!], /row \d+: item ".*" has 2 rows; expected one per item/],
      [good.slice(1), /1 of \d+ items have no vector .* --allow-missing/],
      [ids.map((id) => `{"key": "${id}", "vector": [1, 2, 3]}`), /no item column/],
    ];
    for (const [rows, pattern] of cases) {
      const out = join(dir, 'bad');
      const r = spawnSync(process.execPath, [cli, 'ingest', log, '--item-features', table(rows), '--out', out], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(existsSync(out), false);
    }
    const allowed = spawnSync(process.execPath, [cli, 'ingest', log, '--item-features', table(good.slice(1)), '--allow-missing', '--out', join(dir, 'ok'), '--json'], { encoding: 'utf8' });
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.deepEqual(JSON.parse(allowed.stdout).itemFeatures, { dim: 3, itemsWithoutFeatures: 1 });
  });
});
