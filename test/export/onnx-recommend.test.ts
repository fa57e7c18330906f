import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadOnnxTask } from '../../src/cli/export.js';
import { loadDataset, userSequence } from '../../src/data/dataset.js';
import { ONNX_IR_VERSION, ONNX_OPSET, userEncoderOnnxGraph } from '../../src/export/onnx.js';
import { encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { LoadedModel, loadModelDir } from '../../src/train/checkpoint.js';
import { baseFingerprint, loadPatchDir } from '../../src/transfer/patchfile.js';
import { forEachTargetScoreRow } from '../../src/transfer/recommend.js';
import { maxAbsDiff, runCli, runOnnx } from '../helpers/exportable-model.js';
import { tempDir } from '../helpers/datasets.js';

const MAX_LEN = 20;
let dir: string;
let model: string;
let loaded: LoadedModel;
let histories: Int32Array[];

/** A recommend task from domain A (the base model's) to domain B; its patch directory. */
function finetuneRecommend(name: string, ...flags: string[]): string {
  const out = join(dir, name);
  const r = runCli('finetune', '--model', model, '--data', join(dir, 'full'), '--task', 'cross', '--type', 'recommend', '--source-domain', 'A',
    '--target-domain', 'B', '--epochs', '2', '--lr', '0.02', '--seed', '3', '--threads', '1', '--out', out, '--quiet', ...flags);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

before(async () => {
  dir = tempDir();
  assert.equal(runCli('synth', '--out', join(dir, 'raw'), '--users', '200', '--items', '60', '--domains', '2', '--mean-length', '14').status, 0);
  const csv = join(dir, 'raw', 'interactions.csv');
  // The base model sees domain A only; the task's dataset has both.
  for (const [out, only] of [['source', ['--domain', 'A']], ['full', []]] as const) {
    const r = runCli('ingest', csv, '--out', join(dir, out), ...only);
    assert.equal(r.status, 0, r.stderr);
  }
  model = join(dir, 'model');
  const p = runCli('pretrain', '--data', join(dir, 'source'), '--out', model, '--backbone', 'sasrec', '--dim', '16', '--layers', '2', '--heads', '2',
    '--max-len', String(MAX_LEN), '--epochs', '2', '--lr', '0.01', '--seed', '5', '--threads', '1', '--quiet');
  assert.equal(p.status, 0, p.stderr);
  loaded = await loadModelDir(model);
  // Domain-A histories in the base model's ids, cut to lengths 1..MAX_LEN.
  const source = await loadDataset(join(dir, 'source'));
  histories = Array.from({ length: 40 }, (_, i) => {
    const h = userSequence(source, i % source.users.length);
    return h.subarray(Math.max(0, h.length - (1 + (i % MAX_LEN))));
  });
});

describe('ONNX export of a recommend (cross-domain) task (--patch)', () => {
  it('sasrec peterrec with mean pooling and the item bag: the target-item scores match graftrec\'s (max abs diff <= 1e-4)', async (t) => {
    const patch = finetuneRecommend('scores', '--no-item-pairs', '--pooling', 'mean');
    const out = `${patch}.onnx`;
    const r = runCli('export', 'onnx', '--model', model, '--patch', patch, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const { model: taskModel, task } = await loadOnnxTask(patch, model, loaded);
    const { head } = await loadPatchDir(patch, loaded, await baseFingerprint(model));
    const users = head.encode(taskModel, histories);
    const targets = task.rows.length;
    const scores = new Float32Array(histories.length * targets);
    forEachTargetScoreRow(taskModel, head, histories, (row, s) => scores.set(s, row * targets));

    const result = await runOnnx(readFileSync(out), histories, MAX_LEN);
    assert.deepEqual(result.scores!.dims, [histories.length, targets]);
    const diff = { user: maxAbsDiff(result.user!.data as Float32Array, users), scores: maxAbsDiff(result.scores!.data as Float32Array, scores) };
    assert.ok(diff.user <= 1e-4 && diff.scores <= 1e-4, `max abs diff: user ${diff.user}, scores ${diff.scores}`);
    t.diagnostic(`sasrec recommend: user ${diff.user}, scores ${diff.scores}`);

    // The check can fail: the head's [targets, dim] weight read as the [dim, targets] the graph multiplies by.
    const graph = userEncoderOnnxGraph(taskModel, task);
    for (const init of graph.initializers) if (init.name === 'head.weight.t') init.data = task.headWeight;
    const wrong = await runOnnx(encodeOnnxModel(graph, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} }), histories, MAX_LEN);
    assert.ok(maxAbsDiff(wrong.scores!.data as Float32Array, scores) > 1e-3);
  });

  it('a task with an item-pair table is one error line and nothing is written', () => {
    const patch = finetuneRecommend('pairs', '--item-pairs', '--epochs', '1');
    const r = runCli('export', 'onnx', '--model', model, '--patch', patch, '--out', `${patch}.onnx`);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /item-pair table is not yet exportable/);
    assert.equal(existsSync(`${patch}.onnx`), false);
  });
});
