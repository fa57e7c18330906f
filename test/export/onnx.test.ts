import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { ModelError } from '../../src/errors.js';
import { ONNX_IR_VERSION, ONNX_OPSET, exportOnnx, userEncoderOnnxGraph } from '../../src/export/onnx.js';
import { OnnxGraph, encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { createEncoder } from '../../src/models/encoders.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng } from '../../src/tensor/index.js';
import { LoadedModel } from '../../src/train/checkpoint.js';
import { runCli } from '../helpers/cli.js';
import { maxAbsDiff, runOnnx as runOnnxOutputs, trainExportableModel } from '../helpers/exportable-model.js';

let dir: string;
let model: string;
let loaded: LoadedModel;
let histories: Int32Array[];
let maxLen: number;

before(async () => {
  ({ dir, model, loaded, histories, maxLen } = await trainExportableModel());
});

async function runOnnx(bytes: Uint8Array, hs: readonly Int32Array[], length: number): Promise<ort.Tensor> {
  return (await runOnnxOutputs(bytes, hs, length)).user!;
}

describe('ONNX export of a user encoder', () => {
  it('graftrec export onnx writes a graph whose user vectors match graftrec\'s (max abs diff <= 1e-4), for any left padding', async () => {
    const out = join(dir, 'user.onnx');
    const r = runCli('export', 'onnx', '--model', model, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const expected = encodeHistories(loaded.model, histories);
    const dim = loaded.config.model.dim;
    for (const length of [maxLen, maxLen + 7]) {
      const user = await runOnnx(readFileSync(out), histories, length);
      assert.deepEqual(user.dims, [histories.length, dim]);
      const diff = maxAbsDiff(user.data as Float32Array, expected);
      assert.ok(diff <= 1e-4, `length ${length}: max abs diff ${diff}`);
    }
    // The users' vectors differ from one another: the comparison above is not between constants.
    assert.ok(maxAbsDiff(expected.subarray(0, dim), expected.subarray(dim, 2 * dim)) > 1e-3);
  });

  it('a graph with a wrong dilation or untransposed convolution weights does not match (the check above can fail)', async () => {
    const expected = encodeHistories(loaded.model, histories);
    const graph = () => userEncoderOnnxGraph(loaded.model);
    const encode = (g: OnnxGraph) => encodeOnnxModel(g, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} });

    const undilated = graph();
    for (const n of undilated.nodes) if (n.opType === 'Conv') n.attributes = { ...n.attributes, dilations: [1], pads: [2, 0] };
    const a = await runOnnx(encode(undilated), histories, maxLen);
    assert.ok(maxAbsDiff(a.data as Float32Array, expected) > 1e-3);

    const untransposed = graph();
    for (const t of untransposed.initializers) {
      if (!/conv\d\.weight$/.test(t.name)) continue;
      const conv = (loaded.model as NextItNet).blocks[Number(t.name.split('.')[1])]![t.name.split('.')[2] as 'conv1' | 'conv2'];
      t.data = conv.weight.data; // the [k, Cin, Cout] bytes read as [Cout, Cin, k]
    }
    const b = await runOnnx(encode(untransposed), histories, maxLen);
    assert.ok(maxAbsDiff(b.data as Float32Array, expected) > 1e-3);
  });

  it('a SASRec model exports too, and matches graftrec\'s user vectors (max abs diff <= 1e-4)', async () => {
    const sasrec = await trainExportableModel('sasrec');
    const out = join(sasrec.dir, 'sasrec.onnx');
    const r = runCli('export', 'onnx', '--model', sasrec.model, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const expected = encodeHistories(sasrec.loaded.model, sasrec.histories);
    for (const length of [Math.max(...sasrec.histories.map((h) => h.length)), sasrec.maxLen]) {
      const user = await runOnnx(readFileSync(out), sasrec.histories, length);
      const diff = maxAbsDiff(user.data as Float32Array, expected);
      assert.ok(diff <= 1e-4, `length ${length}: max abs diff ${diff}`);
    }
  });

  it('refuses to replace an existing file without --force, and replaces it with --force', () => {
    const out = join(dir, 'existing.onnx');
    writeFileSync(out, 'keep me');
    const r = runCli('export', 'onnx', '--model', model, '--out', out);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /exists; pass --force/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
    const forced = runCli('export', 'onnx', '--model', model, '--out', out, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.notEqual(readFileSync(out, 'utf8'), 'keep me');
  });

  it('a missing model or output directory is one error line, and nothing is written', () => {
    const out = join(dir, 'missing.onnx');
    const before = readdirSync(dir).length;
    const r = runCli('export', 'onnx', '--model', join(dir, 'no-such-model'), '--out', out);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no such model directory/);
    assert.equal(existsSync(out), false);
    assert.equal(readdirSync(dir).length, before);
    const noDir = runCli('export', 'onnx', '--model', model, '--out', join(dir, 'no-such-dir', 'user.onnx'));
    assert.notEqual(noDir.status, 0);
    assert.equal(noDir.stderr.trim().split('\n').length, 1, noDir.stderr);
    assert.match(noDir.stderr, /no such directory/);
  });

  it('a text item encoder says it is not yet exportable', () => {
    const config = ModelConfigSchema.parse({ numItems: 10, dim: 8, maxLen: 6, backbone: 'gru4rec', itemEncoder: 'text', textBuckets: 16 });
    const tokens = { offsets: Int32Array.from({ length: 12 }, (_, i) => i), tokens: new Int32Array(11) };
    assert.throws(() => exportOnnx(createEncoder(config, new Rng(1), tokens), 'test'),
      (e: Error) => e instanceof ModelError && /text item encoder is not yet exportable/.test(e.message));
  });
});
