import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ONNX_IR_VERSION, ONNX_OPSET, userEncoderOnnxGraph } from '../../src/export/onnx.js';
import { OnnxGraph, encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { BERT4Rec } from '../../src/models/bert4rec.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { runCli } from '../helpers/cli.js';
import { ExportableModel, maxAbsDiff, runOnnx, trainExportableModel } from '../helpers/exportable-model.js';
import { checkTask, exportableHistories, finetune } from '../helpers/exportable-task.js';

let gru4rec: ExportableModel;
let bert4rec: ExportableModel;
let maskedNextItNet: ExportableModel;

before(async () => {
  gru4rec = await trainExportableModel('gru4rec');
  bert4rec = await trainExportableModel('bert4rec');
  maskedNextItNet = await trainExportableModel('nextitnet', 20, '--objective', 'masked');
});

const encode = (g: OnnxGraph) => encodeOnnxModel(g, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} });

/** The exported graph's user vectors' max abs diff to `expected`, for `hs` left-padded to `length`. */
async function userDiff(bytes: Uint8Array, hs: readonly Int32Array[], length: number, expected: Float32Array): Promise<number> {
  return maxAbsDiff((await runOnnx(bytes, hs, length)).user!.data as Float32Array, expected);
}

/** Exports `m` through the CLI and returns the file's bytes. */
function exportCli(m: ExportableModel, name: string): Uint8Array {
  const out = join(m.dir, name);
  const r = runCli('export', 'onnx', '--model', m.model, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}

describe('ONNX export of GRU4Rec, BERT4Rec and masked NextItNet user encoders', () => {
  it('gru4rec matches graftrec\'s user vectors (max abs diff <= 1e-4) for any left padding, an empty history included', async (t) => {
    const bytes = exportCli(gru4rec, 'gru4rec.onnx');
    const hs = [...gru4rec.histories, new Int32Array(0)];
    const expected = encodeHistories(gru4rec.loaded.model, hs);
    for (const length of [gru4rec.maxLen, gru4rec.maxLen + 7]) {
      const diff = await userDiff(bytes, hs, length, expected);
      assert.ok(diff <= 1e-4, `length ${length}: max abs diff ${diff}`);
      t.diagnostic(`length ${length}: max abs diff ${diff}`);
    }
    const dim = gru4rec.loaded.config.model.dim;
    assert.ok(maxAbsDiff(expected.subarray(0, dim), expected.subarray(dim, 2 * dim)) > 1e-3, 'users differ');
  });

  it('a gru4rec graph with PyTorch\'s gate order, the reset gate after the product, or run over the left padding does not match', async () => {
    const expected = encodeHistories(gru4rec.loaded.model, gru4rec.histories);
    const graph = () => userEncoderOnnxGraph(gru4rec.loaded.model);
    const dim = gru4rec.loaded.config.model.dim;

    const swapped = graph();
    // z and r blocks exchanged back: the gates in graftrec's (PyTorch's) r, z order
    for (const t of swapped.initializers) {
      if (!/^gru\.\d\.[WRB]$/.test(t.name)) continue;
      const d = t.data as Float32Array;
      const block = d.length / (t.name.endsWith('B') ? 6 : 3);
      const z = d.slice(0, block);
      d.copyWithin(0, block, 2 * block);
      d.set(z, block);
      if (t.name.endsWith('B')) {
        const zh = d.slice(3 * block, 4 * block);
        d.copyWithin(3 * block, 4 * block, 5 * block);
        d.set(zh, 4 * block);
      }
    }
    assert.ok(await userDiff(encode(swapped), gru4rec.histories, gru4rec.maxLen, expected) > 1e-3);

    const resetFirst = graph();
    for (const n of resetFirst.nodes) if (n.opType === 'GRU') n.attributes = { hidden_size: dim, linear_before_reset: 0 };
    assert.ok(await userDiff(encode(resetFirst), gru4rec.histories, gru4rec.maxLen, expected) > 1e-3);

    const unrotated = graph();
    for (const n of unrotated.nodes) {
      if (n.outputs[0] === 'gru.items' || n.outputs[0] === 'gru.states') Object.assign(n, { opType: 'Identity', inputs: [n.inputs[0]], attributes: {} });
    }
    assert.ok(await userDiff(encode(unrotated), gru4rec.histories, gru4rec.maxLen, expected) > 1e-3);
  });

  it('bert4rec (masked objective: the graph appends the mask token) matches graftrec\'s user vectors (max abs diff <= 1e-4)', async (t) => {
    const bytes = exportCli(bert4rec, 'bert4rec.onnx');
    // At most max-len - 1 items: the mask token takes the last position.
    const { hs, room } = exportableHistories(bert4rec);
    const expected = encodeHistories(bert4rec.loaded.model, hs);
    // Every history padded to the longest, and the short ones padded only to theirs (positions count from the end).
    const short = hs.filter((h) => h.length <= 8);
    for (const [rows, length, want] of [[hs, room, expected], [short, 8, encodeHistories(bert4rec.loaded.model, short)]] as const) {
      const diff = await userDiff(bytes, rows, length, want);
      assert.ok(diff <= 1e-4, `length ${length}: max abs diff ${diff}`);
      t.diagnostic(`length ${length}: max abs diff ${diff}`);
    }
    const dim = bert4rec.loaded.config.model.dim;
    assert.ok(short.length > 2);
    assert.ok(maxAbsDiff(expected.subarray(0, dim), expected.subarray(dim, 2 * dim)) > 1e-3, 'users differ');
  });

  it('a bert4rec graph without the mask token or with positions counted from the start does not match', async () => {
    const { hs, room } = exportableHistories(bert4rec);
    const expected = encodeHistories(bert4rec.loaded.model, hs);
    const graph = () => userEncoderOnnxGraph(bert4rec.loaded.model);

    const unmasked = graph();
    for (const n of unmasked.nodes) if (n.outputs[0] === 'items.masked') Object.assign(n, { opType: 'Identity', inputs: ['items'], attributes: {} });
    assert.ok(await userDiff(encode(unmasked), hs, room, expected) > 1e-3);

    const forward = graph();
    const positions = (bert4rec.loaded.model as BERT4Rec).positions.weight.data;
    for (const t of forward.initializers) if (t.name === 'positions.reversed') t.data = positions;
    assert.ok(await userDiff(encode(forward), hs, room, expected) > 1e-3);
  });

  it('tasks on them: gru4rec fine-all with attention pooling and the item bag, bert4rec peterrec with mean pooling and the item bag', async (t) => {
    const gru = await checkTask(gru4rec, finetune(gru4rec, 'fine-all', '--strategy', 'fine-all', '--lr', '0.005', '--pooling', 'attention'));
    t.diagnostic(`gru4rec fine-all attention + bag: user ${gru.user}, probabilities ${gru.probabilities}`);
    const bert = await checkTask(bert4rec, finetune(bert4rec, 'serial'));
    t.diagnostic(`bert4rec peterrec mean + bag: user ${bert.user}, probabilities ${bert.probabilities}`);
  });

  it('masked nextitnet (centred convolutions, the mask token appended) matches graftrec\'s user vectors; causal padding does not', async (t) => {
    const m = maskedNextItNet;
    const bytes = exportCli(m, 'masked.onnx');
    const { hs, room } = exportableHistories(m);
    const expected = encodeHistories(m.loaded.model, hs);
    const diff = await userDiff(bytes, hs, room, expected);
    assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
    t.diagnostic(`masked nextitnet: max abs diff ${diff}`);
    const causal = userEncoderOnnxGraph(m.loaded.model);
    for (const n of causal.nodes) {
      if (n.opType === 'Conv') n.attributes = { ...n.attributes, pads: [(n.attributes!.pads as number[])[0]! * 2, 0] };
    }
    assert.ok(await userDiff(encode(causal), hs, room, expected) > 1e-3);
  });
});
