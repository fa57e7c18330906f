import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { loadDataset, userSequence } from '../../src/data/dataset.js';
import { ModelError } from '../../src/errors.js';
import { ONNX_IR_VERSION, ONNX_OPSET, exportOnnx, nextItNetOnnxGraph } from '../../src/export/onnx.js';
import { OnnxGraph, encodeOnnxModel } from '../../src/export/onnx-proto.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { createEncoder } from '../../src/models/encoders.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng } from '../../src/tensor/index.js';
import { LoadedModel, loadModelDir } from '../../src/train/checkpoint.js';
import { tempDir } from '../helpers/datasets.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

const MAX_LEN = 20;
let dir: string;
let model: string;
let loaded: LoadedModel;
let histories: Int32Array[];

before(async () => {
  dir = tempDir();
  assert.equal(run('synth', '--out', join(dir, 'raw'), '--users', '150', '--items', '60', '--domains', '1', '--mean-length', '14').status, 0);
  const ds = join(dir, 'ds');
  const ingested = run('ingest', join(dir, 'raw', 'interactions.csv'), '--out', ds);
  assert.equal(ingested.status, 0, ingested.stderr);
  model = join(dir, 'model');
  // Dilations 1,2,4 with kernel 3: a wrong dilation or tap order changes every vector of a long enough history.
  const p = run('pretrain', '--data', ds, '--out', model, '--dim', '16', '--blocks', '3', '--dilations', '1,2,4',
    '--max-len', String(MAX_LEN), '--epochs', '2', '--lr', '0.01', '--seed', '5', '--threads', '1', '--quiet');
  assert.equal(p.status, 0, p.stderr);
  loaded = await loadModelDir(model);
  // Real histories, cut to lengths 1..MAX_LEN (the last items, as graftrec reads a history).
  const data = await loadDataset(ds);
  const rng = new Rng(11);
  histories = Array.from({ length: 48 }, (_, i) => {
    const h = userSequence(data, i % data.users.length);
    const n = Math.min(h.length, i < MAX_LEN ? i + 1 : 1 + Math.floor(rng.uniform() * MAX_LEN));
    return h.subarray(h.length - n);
  });
});

/** histories left-padded with 0 to `length` columns, as the graph's items input. */
function paddedItems(hs: readonly Int32Array[], length: number): ort.Tensor {
  const ids = new BigInt64Array(hs.length * length);
  hs.forEach((h, b) => h.forEach((v, i) => { ids[b * length + length - h.length + i] = BigInt(v); }));
  return new ort.Tensor('int64', ids, [hs.length, length]);
}

async function runOnnx(bytes: Uint8Array, hs: readonly Int32Array[], length: number): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ items: paddedItems(hs, length) });
  return out.user!;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('ONNX export of a NextItNet user encoder', () => {
  it('graftrec export onnx writes a graph whose user vectors match graftrec\'s (max abs diff <= 1e-4), for any left padding', async () => {
    const out = join(dir, 'user.onnx');
    const r = run('export', 'onnx', '--model', model, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const expected = encodeHistories(loaded.model, histories);
    const dim = loaded.config.model.dim;
    for (const length of [MAX_LEN, MAX_LEN + 7]) {
      const user = await runOnnx(readFileSync(out), histories, length);
      assert.deepEqual(user.dims, [histories.length, dim]);
      const diff = maxAbsDiff(user.data as Float32Array, expected);
      assert.ok(diff <= 1e-4, `length ${length}: max abs diff ${diff}`);
    }
    // The vectors are not trivially equal (a constant graph would not pass above, but check they vary by user).
    assert.ok(maxAbsDiff(expected.subarray(0, dim), expected.subarray(dim, 2 * dim)) > 1e-3);
  });

  it('a graph with a wrong dilation or untransposed convolution weights does not match (the check above can fail)', async () => {
    const expected = encodeHistories(loaded.model, histories);
    const graph = () => nextItNetOnnxGraph(loaded.model as NextItNet);
    const encode = (g: OnnxGraph) => encodeOnnxModel(g, { irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET, producerVersion: 'test', metadata: {} });

    const undilated = graph();
    for (const n of undilated.nodes) if (n.opType === 'Conv') n.attributes = { ...n.attributes, dilations: [1], pads: [2, 0] };
    const a = await runOnnx(encode(undilated), histories, MAX_LEN);
    assert.ok(maxAbsDiff(a.data as Float32Array, expected) > 1e-3);

    const untransposed = graph();
    for (const t of untransposed.initializers) {
      if (!/conv\d\.weight$/.test(t.name)) continue;
      const conv = (loaded.model as NextItNet).blocks[Number(t.name.split('.')[1])]![t.name.split('.')[2] as 'conv1' | 'conv2'];
      t.data = conv.weight.data; // the [k, Cin, Cout] bytes read as [Cout, Cin, k]
    }
    const b = await runOnnx(encode(untransposed), histories, MAX_LEN);
    assert.ok(maxAbsDiff(b.data as Float32Array, expected) > 1e-3);
  });

  it('refuses to replace an existing file without --force, and replaces it with --force', () => {
    const out = join(dir, 'existing.onnx');
    writeFileSync(out, 'keep me');
    const r = run('export', 'onnx', '--model', model, '--out', out);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /exists; pass --force/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
    const forced = run('export', 'onnx', '--model', model, '--out', out, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.notEqual(readFileSync(out, 'utf8'), 'keep me');
  });

  it('a missing model is one error line, and nothing is written', () => {
    const out = join(dir, 'missing.onnx');
    const before = readdirSync(dir).length;
    const r = run('export', 'onnx', '--model', join(dir, 'no-such-model'), '--out', out);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no such model directory/);
    assert.equal(existsSync(out), false);
    assert.equal(readdirSync(dir).length, before);
  });

  it('other backbones and objectives say they are not yet exportable', () => {
    for (const fields of [{ backbone: 'sasrec' }, { backbone: 'nextitnet', objective: 'masked' }] as const) {
      const config = ModelConfigSchema.parse({ numItems: 10, dim: 8, maxLen: 6, ...fields });
      assert.throws(() => exportOnnx(createEncoder(config, new Rng(1)), 'test'), (e: Error) => e instanceof ModelError && /not yet exportable/.test(e.message));
    }
  });
});
