import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadOnnxTask } from '../../src/cli/export.js';
import { loadDataset, userSequence } from '../../src/data/dataset.js';
import { ModelError } from '../../src/errors.js';
import { ONNX_IR_VERSION, ONNX_OPSET, OnnxTask, userEncoderOnnxGraph } from '../../src/export/onnx.js';
import { OnnxGraph, encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { LoadedModel, loadModelDir } from '../../src/train/checkpoint.js';
import { baseFingerprint, loadPatchDir } from '../../src/transfer/patchfile.js';
import { forEachTargetScoreRow } from '../../src/transfer/recommend.js';
import { runCli } from '../helpers/cli.js';
import { maxAbsDiff, runOnnx } from '../helpers/exportable-model.js';
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

/** Exports the task, runs it on the histories and compares user vectors and scores with graftrec's (≤ 1e-4). */
async function checkScores(patch: string): Promise<{ user: number; scores: number; expected: Float32Array }> {
  const out = `${patch}.onnx`;
  const r = runCli('export', 'onnx', '--model', model, '--patch', patch, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const { model: taskModel, head } = await loadPatchDir(patch, loaded, await baseFingerprint(model));
  const users = head.encode(taskModel, histories);
  const targets = head.rows;
  const expected = new Float32Array(histories.length * targets);
  forEachTargetScoreRow(taskModel, head, histories, (row, s) => expected.set(s, row * targets));
  const result = await runOnnx(readFileSync(out), histories, MAX_LEN);
  assert.deepEqual(result.scores!.dims, [histories.length, targets]);
  const diff = { user: maxAbsDiff(result.user!.data as Float32Array, users), scores: maxAbsDiff(result.scores!.data as Float32Array, expected) };
  assert.ok(diff.user <= 1e-4 && diff.scores <= 1e-4, `max abs diff: user ${diff.user}, scores ${diff.scores}`);
  return { ...diff, expected };
}

/** The scores of the task's graph after `mutate`. */
async function mutatedScores(patch: string, mutate: (graph: OnnxGraph, task: OnnxTask) => void): Promise<Float32Array> {
  const { model: taskModel, task } = await loadOnnxTask(patch, model, loaded);
  const graph = userEncoderOnnxGraph(taskModel, task);
  mutate(graph, task);
  const bytes = encodeOnnxModel(graph, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} });
  return (await runOnnx(bytes, histories, MAX_LEN)).scores!.data as Float32Array;
}

describe('ONNX export of a recommend (cross-domain) task (--patch)', () => {
  it('sasrec peterrec with mean pooling and the item bag: the target-item scores match graftrec\'s (max abs diff <= 1e-4)', async (t) => {
    const patch = finetuneRecommend('scores', '--no-item-pairs', '--pooling', 'mean');
    const { user, scores, expected } = await checkScores(patch);
    t.diagnostic(`sasrec recommend: user ${user}, scores ${scores}`);
    // The check can fail: the head's [targets, dim] weight read as the [dim, targets] the graph multiplies by.
    const wrong = await mutatedScores(patch, (graph, task) => {
      for (const init of graph.initializers) if (init.name === 'head.weight.t') init.data = task.headWeight;
    });
    assert.ok(maxAbsDiff(wrong, expected) > 1e-3);
  });

  it('with the item-pair table (the default): its pairs add to the scores as graftrec adds them (max abs diff <= 1e-4)', async (t) => {
    const patch = finetuneRecommend('pairs', '--epochs', '1');
    const { user, scores, expected } = await checkScores(patch);
    t.diagnostic(`sasrec recommend with item pairs: user ${user}, scores ${scores}`);
    // The pairs matter, and weighed without the bag's 1/√(distinct items) they give other scores.
    const unpaired = await mutatedScores(patch, (graph) => {
      for (const n of graph.nodes) if (n.outputs[0] === 'scores') Object.assign(n, { opType: 'Identity', inputs: [n.inputs[0]] });
    });
    assert.ok(maxAbsDiff(unpaired, expected) > 1e-3);
    const unnormalised = await mutatedScores(patch, (graph) => {
      for (const n of graph.nodes) if (n.outputs[0] === 'bag.weights') Object.assign(n, { opType: 'Identity', inputs: [n.inputs[0]] });
    });
    assert.ok(maxAbsDiff(unnormalised, expected) > 1e-3);
  });

  it('an item-pair table too large to write dense is one clear error', async () => {
    const { model: taskModel, task } = await loadOnnxTask(join(dir, 'pairs'), model, loaded);
    const huge: OnnxTask = { ...task, rows: Array.from({ length: 2 ** 13 }, (_, i) => `t${i}`),
      itemPairs: { support: { indptr: new Int32Array(2 ** 14 + 1), targets: new Int32Array(0) }, weight: new Float32Array(0) } };
    assert.throws(() => userEncoderOnnxGraph(taskModel, huge), (e: Error) => e instanceof ModelError
      && /item-pair table of 16384 source rows × 8192 target items is not yet exportable/.test(e.message) && !e.message.includes('\n'));
  });
});
