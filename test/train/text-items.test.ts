import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { ingest } from '../../src/data/ingest.js';
import { ModelError } from '../../src/errors.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { tempDir } from '../helpers/datasets.js';
import { ITEMS, SPEC, catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { ItemEncoderKind, ModelConfigSchema } from '../../src/config/schema.js';
import { causalBatch } from '../../src/data/batches.js';
import { tokenizerSpec } from '../../src/data/text/tokenize.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { UserEncoder } from '../../src/models/encoder.js';
import { createEncoder, forItemCatalogue } from '../../src/models/encoders.js';
import { Adam, Rng } from '../../src/tensor/index.js';
import { sequenceLoss } from '../../src/train/objectives.js';
import { trainingStep } from '../../src/train/step.js';
import { CLI as cli } from '../helpers/cli.js';

function train(itemEncoder: ItemEncoderKind, data: ReturnType<typeof catalogue>): UserEncoder {
  const config = ModelConfigSchema.parse({ numItems: ITEMS, dim: 16, blocks: 1, maxLen: 6, itemEncoder, textBuckets: SPEC.buckets });
  const model = createEncoder(config, new Rng(1), itemEncoder === 'id' ? null : data.tokens);
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const rng = new Rng(5);
  const windows = data.sequences.map((s) => s.subarray(0, s.length - 1)); // the last item is held out
  for (let epoch = 0; epoch < 12; epoch++) {
    for (let start = 0; start < windows.length; start += 32) {
      const batch = causalBatch(windows.slice(start, start + 32), 6);
      trainingStep([sequenceLoss(model, batch, { negatives: 0, sampler: null }, rng)], optimizer, { clipNorm: 0 });
    }
  }
  return model;
}

/** HR@10 of the held-out last items, and the popularity baseline's (counts from the histories). */
function hitRate(model: UserEncoder, data: ReturnType<typeof catalogue>): { model: number; popularity: number } {
  const histories = data.sequences.map((s) => s.subarray(0, s.length - 1));
  const counts = new Float64Array(ITEMS + 1);
  for (const h of histories) for (const i of h) counts[i]! += 1;
  const r = evaluateNextItem(model, {
    users: Int32Array.from(histories, (_, u) => u), histories, targets: Int32Array.from(data.sequences, (s) => s[s.length - 1]!),
  }, counts, { ks: [10], maskHistory: false });
  return { model: r.metrics['HR@10']!, popularity: r.popularity!['HR@10']! };
}

describe('text items: a fresh catalogue', () => {
  it('a text model trained on one catalogue ranks a fresh one (new ids, same words) far above popularity; an id model cannot', () => {
    const seen = catalogue(1, 240);
    const fresh = catalogue(2, 240);
    const text = train('text', seen);
    const id = train('id', seen);
    const textOnSeen = hitRate(text, seen);
    const idOnSeen = hitRate(id, seen);
    // Both learn the seen catalogue: a topic has 10 items, so knowing the topic puts the target in the top 10.
    assert.ok(textOnSeen.model > 0.8 && idOnSeen.model > 0.8, `seen: text ${textOnSeen.model}, id ${idOnSeen.model}`);

    const textOnFresh = hitRate(forItemCatalogue(text, ITEMS, fresh.tokens), fresh);
    // The id model's rows belong to the seen catalogue's products; on the fresh one an id names another product.
    const idOnFresh = hitRate(id, fresh);
    assert.ok(textOnFresh.model > 0.8, `text on the fresh catalogue: HR@10 ${textOnFresh.model}`);
    assert.ok(textOnFresh.model > 2 * textOnFresh.popularity, `popularity ${textOnFresh.popularity}`);
    // (Its ids still overlap some fresh topics by chance, hence somewhat above popularity.)
    assert.ok(idOnFresh.model < 0.4 && textOnFresh.model - idOnFresh.model > 0.5,
      `id on the fresh catalogue: HR@10 ${idOnFresh.model} (popularity ${idOnFresh.popularity})`);
    assert.throws(() => forItemCatalogue(id, ITEMS, fresh.tokens), /cannot score another catalogue/);
  });
});

describe('text items: pretrain, save, evaluate', () => {
  const quiet = { progress: { start() {}, update() {}, stop() {} } };

  it('pretrain --item-encoder text records the encoder and tokenizer, saves the item tokens, and evaluate scores from the model directory', async () => {
    const dir = tempDir();
    const data = catalogue(1, 240);
    const { log, items } = writeCatalogue(dir, data, 'i');
    const withText = join(dir, 'with-text');
    const plain = join(dir, 'plain');
    await ingest({ input: log, out: withText, itemText: items, textBuckets: 1 << 12 });
    await ingest({ input: log, out: plain });

    const out = join(dir, 'model');
    const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6, itemEncoder: 'text' as const };
    await pretrain({ data: withText, out, model, train: { ...TRAIN_DEFAULTS, epochs: 4, batch: 32, lr: 0.01 }, ...quiet });
    const loaded = await loadModelDir(out);
    assert.equal(loaded.config.model.itemEncoder, 'text');
    assert.deepEqual(loaded.config.itemText, { tokenizer: tokenizerSpec(1 << 12) });
    assert.ok(!loaded.model.parameters().some((p) => p.name.startsWith('items.') || p.name.startsWith('output.')));

    const evaluated = spawnSync(process.execPath, [cli, 'evaluate', '--model', out, '--data', withText, '--k', '10', '--json'], { encoding: 'utf8' });
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const r = JSON.parse(evaluated.stdout) as { 'HR@10': number; popularity: { 'HR@10': number } };
    assert.ok(r['HR@10'] > 2 * r.popularity['HR@10'], evaluated.stdout);

    // The same vocabulary without item text: the model refuses it, and so does pretraining a text model on it.
    const refused = spawnSync(process.execPath, [cli, 'evaluate', '--model', out, '--data', plain], { encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /has no item text, which the text item encoder of .* needs; ingest it with --item-text/);
    await assert.rejects(pretrain({ data: plain, out: join(dir, 'm2'), model, train: TRAIN_DEFAULTS, ...quiet }),
      (e) => e instanceof ModelError && /has no item text/.test(e.message));
    await assert.rejects(pretrain({ data: withText, out, model: { ...model, itemEncoder: 'id' }, train: TRAIN_DEFAULTS, resume: true, ...quiet }),
      /encodes items by text, not id/);

    // --text-init-scale reaches the model's config (and so its LayerNorm's start); a scale ≤ 0 is refused.
    const both = join(dir, 'id-text');
    const cliRun = (out: string, scale: string) => spawnSync(process.execPath, [cli, 'pretrain', '--data', withText, '--out', out,
      '--item-encoder', 'id+text', '--text-init-scale', scale, '--dim', '8', '--blocks', '1', '--max-len', '6', '--epochs', '1', '--quiet'], { encoding: 'utf8' });
    const ok = cliRun(both, '0.02');
    assert.equal(ok.status, 0, ok.stderr);
    const saved = (await loadModelDir(both)).config.model;
    assert.equal(saved.textInitScale, 0.02);
    const never = join(dir, 'never');
    const bad = cliRun(never, '0');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /text-init-scale must be a number > 0, got "0"/);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.equal(existsSync(never), false);
  });
});
