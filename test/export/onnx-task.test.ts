import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadOnnxTask } from '../../src/cli/export.js';
import { ONNX_IR_VERSION, ONNX_OPSET, userEncoderOnnxGraph } from '../../src/export/onnx.js';
import { encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { runCli } from '../helpers/cli.js';
import { ExportableModel, maxAbsDiff, runOnnx, trainExportableModel } from '../helpers/exportable-model.js';
import { checkTask, exportableHistories, finetune } from '../helpers/exportable-task.js';

let nextitnet: ExportableModel;
let sasrec: ExportableModel;

before(async () => {
  nextitnet = await trainExportableModel('nextitnet');
  sasrec = await trainExportableModel('sasrec');
});

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

  it('attention pooling (a learned query, softmax over the real positions), and a graph that lets padding in does not match', async (t) => {
    const patch = finetune(nextitnet, 'attention', '--pooling', 'attention', '--no-item-bag');
    const diff = await checkTask(nextitnet, patch);
    t.diagnostic(`nextitnet peterrec attention pooling: user ${diff.user}, probabilities ${diff.probabilities}`);
    // The same graph with padding positions weighed in (their scores not pushed down) reads other users.
    const { model, task } = await loadOnnxTask(patch, nextitnet.model, nextitnet.loaded);
    const graph = userEncoderOnnxGraph(model, task);
    for (const n of graph.nodes) if (n.outputs[0] === 'pool.scores') Object.assign(n, { opType: 'Identity', inputs: [n.inputs[0]] });
    const bytes = encodeOnnxModel(graph, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} });
    const { hs, room } = exportableHistories(nextitnet);
    const right = (await runOnnx(readFileSync(`${patch}.onnx`), hs, room)).user!.data as Float32Array;
    const wrong = (await runOnnx(bytes, hs, room)).user!.data as Float32Array;
    assert.ok(maxAbsDiff(wrong, right) > 1e-3);
  });

  it('a patch of another base is one error line and nothing is written', () => {
    const patch = join(nextitnet.dir, 'serial');
    const other = runCli('export', 'onnx', '--model', sasrec.model, '--patch', patch, '--out', join(nextitnet.dir, 'other.onnx'));
    assert.notEqual(other.status, 0);
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
    assert.match(other.stderr, /refusing to load it/);
    assert.equal(existsSync(join(nextitnet.dir, 'other.onnx')), false);
  });
});
