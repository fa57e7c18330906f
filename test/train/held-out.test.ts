import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelConfigSchema, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { createEncoder } from '../../src/models/encoders.js';
import { Rng, backward, noGrad } from '../../src/tensor/index.js';
import { CONTRASTIVE_READING } from '../../src/train/contrastive.js';
import { heldOutLoss, holdOutItems } from '../../src/train/held-out.js';
import { lossTerms } from '../../src/train/objectives.js';
import { savedCyclicDataset, tempDir } from '../helpers/datasets.js';
import { CLI as cli } from '../helpers/cli.js';


describe('held-out items term', () => {
  const windows = [1, 2, 5, 10].map((n, w) => Int32Array.from({ length: n }, (_, i) => 1 + ((w * 7 + i * 3) % 20)));

  it('holds out ⌊ρ·n⌋ items of each window (≥ 1 held out and ≥ 1 kept), keeps the rest in order, seed-stable', () => {
    const split = holdOutItems(windows, 0.5, new Rng(3));
    assert.deepEqual(split.kept.map((k) => k.length), [1, 1, 3, 5]);
    assert.deepEqual(Array.from(split.windowOf), [1, 2, 2, 3, 3, 3, 3, 3]);
    for (const [w, items] of windows.entries()) {
      const heldOut = Array.from(split.targets).filter((_, i) => split.windowOf[i] === w);
      assert.deepEqual([...split.kept[w]!, ...heldOut].sort((a, b) => a - b), Array.from(items).sort((a, b) => a - b));
      // The kept items are a subsequence of the window (order kept).
      let at = 0;
      for (const item of split.kept[w]!) at = items.indexOf(item, at) + 1;
      assert.ok(at > 0 || split.kept[w]!.length === 0);
    }
    assert.deepEqual(holdOutItems(windows, 0.5, new Rng(3)), split);
    assert.notDeepEqual(holdOutItems(windows, 0.5, new Rng(4)).targets, split.targets);
    assert.deepEqual(holdOutItems(windows, 0.9, new Rng(3)).kept.map((k) => k.length), [1, 1, 1, 1], 'one item always stays');
  });

  it('is the mean cross-entropy of each held-out item under its own window’s pooled vector, over all items', () => {
    const config = ModelConfigSchema.parse({ numItems: 20, dim: 8, blocks: 1, maxLen: 10 });
    const model = createEncoder(config, new Rng(2));
    const split = holdOutItems(windows, 0.4, new Rng(5));
    const loss = noGrad(() => heldOutLoss(model, split)).data[0]!;
    const users = noGrad(() => model.userVectors(split.kept, CONTRASTIVE_READING)).data;
    const table = model.outputWeight.data;
    const bias = model.outputBias?.data;
    let expected = 0;
    split.targets.forEach((target, i) => {
      const u = users.subarray(split.windowOf[i]! * 8, split.windowOf[i]! * 8 + 8);
      const logits = Array.from({ length: table.length / 8 }, (_, v) => u.reduce((s, x, c) => s + x * table[v * 8 + c]!, bias?.[v] ?? 0));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
      expected += (lse - logits[target]!) / split.targets.length;
    });
    assert.ok(Math.abs(loss - expected) < 1e-4, `${loss} vs ${expected}`);
  });

  it('is a loss term only when its weight is above 0, and its gradient reaches the network and the output layer', () => {
    const config = ModelConfigSchema.parse({ numItems: 20, dim: 8, blocks: 1, maxLen: 10 });
    const model = createEncoder(config, new Rng(2));
    const softmax = { negatives: 0, sampler: null };
    assert.deepEqual(lossTerms('causal', model, null, TRAIN_DEFAULTS, softmax, new Rng(3)).map((t) => t.name), ['next-item']);
    const train = { ...TRAIN_DEFAULTS, heldOut: { weight: 0.5, rate: 0.5 } };
    const terms = lossTerms('causal', model, null, train, softmax, new Rng(3));
    assert.deepEqual(terms.map((t) => [t.name, t.weight]), [['next-item', 1], ['held-out-items', 0.5]]);
    const prepared = terms[1]!.prepare(windows, new Rng(1));
    assert.equal(prepared.count, 8);
    backward(prepared.loss());
    for (const name of ['items.weight', 'output.weight', 'block.0.conv1.weight']) {
      const p = model.parameters().find((q) => q.name === name)!;
      assert.ok(p.grad && p.grad.some((g) => g !== 0), `${name} has a gradient`);
    }
  });

  it('CLI: --held-out-weight trains the term and records it; bad weight or rate → one clear error line, nothing written', async () => {
    const data = await savedCyclicDataset(40, 12, 6);
    const run = (...args: string[]) => new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, 'pretrain', '--data', data, '--dim', '8', '--blocks', '1', '--max-len', '6', '--epochs', '1', '--quiet', ...args]);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    const out = join(tempDir(), 'held-out');
    const bad: [string[], RegExp][] = [
      [['--held-out-weight', '-1'], /held-out-weight must be a number ≥ 0, got "-1"/],
      [['--held-out-rate', '1'], /held-out-rate must be a number in \(0, 1\), got "1"/],
      [['--held-out-rate', '0'], /held-out-rate must be a number in \(0, 1\), got "0"/],
    ];
    const never = bad.map(() => join(tempDir(), 'never'));
    const runs = [run('--out', out, '--held-out-weight', '0.3', '--held-out-rate', '0.4'),
      ...bad.map(([args], i) => run('--out', never[i]!, ...args))];
    const ok = await runs[0]!;
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.heldOut, { weight: 0.3, rate: 0.4 });
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]!);
    assert.deepEqual(Object.keys(metrics.trainLosses), ['next-item', 'held-out-items']);
    for (const [i, [args, message]] of bad.entries()) {
      const r = await runs[i + 1]!;
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(existsSync(never[i]!), false, `${args.join(' ')} wrote its output`);
    }
  });
});
