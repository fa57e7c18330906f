import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { predictProbabilities } from '../../src/transfer/classify.js';
import { baseFingerprint, loadPatchDir } from '../../src/transfer/patchfile.js';
import { ExportableModel, maxAbsDiff, runCli, trainExportableModel } from '../helpers/exportable-model.js';

let nextitnet: ExportableModel;
let sasrec: ExportableModel;

before(async () => {
  nextitnet = await trainExportableModel('nextitnet');
  sasrec = await trainExportableModel('sasrec');
});

function finetune(m: ExportableModel, name: string, ...flags: string[]): string {
  const out = join(m.dir, name);
  // A high learning rate for a few epochs moves the patches well away from the identity they start near.
  const r = runCli('finetune', '--model', m.model, '--data', m.data, '--task', 'gender', '--label', 'gender', '--epochs', '3',
    '--lr', '0.02', '--patience', '3', '--seed', '3', '--threads', '1', '--out', out, '--quiet', ...flags);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** Exports the task, runs it in onnxruntime on the test histories, and compares with graftrec's own reading. */
async function checkTask(m: ExportableModel, patch: string): Promise<void> {
  const out = `${patch}.onnx`;
  const r = runCli('export', 'onnx', '--model', m.model, '--patch', patch, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const task = await loadPatchDir(patch, m.loaded, await baseFingerprint(m.model));
  const users = task.head.encode(task.model, m.histories);
  const probs = predictProbabilities(task.model, task.head, m.histories);
  // The patches matter: the plain network's reading differs.
  const plainTask = { ...task, model: m.loaded.model };
  assert.ok(maxAbsDiff(plainTask.head.encode(plainTask.model, m.histories), users) > 1e-3, 'the patches changed nothing');

  const length = m.maxLen;
  const ids = new BigInt64Array(m.histories.length * length);
  m.histories.forEach((h, b) => h.forEach((v, i) => { ids[b * length + length - h.length + i] = BigInt(v); }));
  const session = await ort.InferenceSession.create(readFileSync(out));
  const result = await session.run({ items: new ort.Tensor('int64', ids, [m.histories.length, length]) });
  assert.deepEqual(result.probabilities!.dims, [m.histories.length, 2]);
  const userDiff = maxAbsDiff(result.user!.data as Float32Array, users);
  const probDiff = maxAbsDiff(result.probabilities!.data as Float32Array, probs);
  assert.ok(userDiff <= 1e-4 && probDiff <= 1e-4, `max abs diff: user ${userDiff}, probabilities ${probDiff}`);
}

describe('ONNX export of a classify task (--patch)', () => {
  it('nextitnet, peterrec serial-each-conv, mean pooling and the item bag (the defaults)', async () => {
    await checkTask(nextitnet, finetune(nextitnet, 'serial'));
  });

  it('nextitnet, parallel-each-conv with max pooling; serial-second-conv and residual-mixed with the last position', async () => {
    await checkTask(nextitnet, finetune(nextitnet, 'parallel', '--insertion', 'parallel-each-conv', '--pooling', 'max', '--no-item-bag'));
    await checkTask(nextitnet, finetune(nextitnet, 'second', '--insertion', 'serial-second-conv', '--pooling', 'last', '--no-item-bag'));
    await checkTask(nextitnet, finetune(nextitnet, 'mixed', '--insertion', 'residual-mixed', '--pooling', 'last'));
  });

  it('nextitnet fine-all: the task\'s own backbone weights', async () => {
    await checkTask(nextitnet, finetune(nextitnet, 'fine-all', '--strategy', 'fine-all', '--lr', '0.005'));
  });

  it('sasrec, serial-each-sublayer and parallel-each-sublayer', async () => {
    await checkTask(sasrec, finetune(sasrec, 'serial'));
    await checkTask(sasrec, finetune(sasrec, 'parallel', '--insertion', 'parallel-each-sublayer', '--pooling', 'max'));
  });

  it('a patch of another base, or with attention pooling, is one error line and nothing is written', () => {
    const patch = join(nextitnet.dir, 'serial');
    const other = runCli('export', 'onnx', '--model', sasrec.model, '--patch', patch, '--out', join(nextitnet.dir, 'other.onnx'));
    assert.notEqual(other.status, 0);
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
    assert.match(other.stderr, /refusing to load it/);
    assert.equal(existsSync(join(nextitnet.dir, 'other.onnx')), false);

    const attention = finetune(nextitnet, 'attention', '--pooling', 'attention', '--epochs', '1');
    const r = runCli('export', 'onnx', '--model', nextitnet.model, '--patch', attention, '--out', `${attention}.onnx`);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /attention pooling is not yet exportable/);
    assert.equal(existsSync(`${attention}.onnx`), false);
  });
});
