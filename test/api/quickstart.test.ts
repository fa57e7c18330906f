import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/datasets.js';

const example = new URL('../../../examples/quickstart.mjs', import.meta.url).pathname;

interface QuickstartOutput {
  dataset: { users: number; items: number; interactions: number };
  pretrain: { epochs: number; bestEpoch: number; bestValidNDCG10: number };
  evaluate: { users: number; model: Record<string, number>; popularity: Record<string, number> };
  finetune: { strategy: string; trainedParams: number; totalParams: number; accuracy: number; majority: number };
  predict: { user: string; label: string; probabilities: Record<string, number> }[];
  recommend: { user: string; items: { item: string; score: number }[] };
}

describe('the quick-start example (the library API end to end)', () => {
  it('imports nothing but the package itself', () => {
    const source = readFileSync(example, 'utf8');
    const specifiers = [...source.matchAll(/\bimport\b[^'"]*?['"]([^'"]+)['"]/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(specifiers)], ['graftrec']);
    assert.doesNotMatch(source, /\brequire\s*\(|\bimport\s*\(/);
  });

  it('runs as a child process and prints real results', () => {
    const dir = tempDir();
    const r = spawnSync(process.execPath, [example, join(dir, 'work')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // Nothing on stderr: the library prints nothing unless asked.
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout) as QuickstartOutput;
    assert.equal(out.dataset.users, 600);
    assert.ok(out.pretrain.epochs >= 1 && out.pretrain.bestValidNDCG10 > 0);
    // The planted sequential structure is learnable: a working pipeline beats popularity clearly.
    assert.equal(out.evaluate.users, 600);
    assert.ok(out.evaluate.model['NDCG@10']! > 1.5 * out.evaluate.popularity['NDCG@10']!, JSON.stringify(out.evaluate));
    // PeterRec trains a small share of the network, and gender is predictable from the clicks.
    assert.equal(out.finetune.strategy, 'peterrec');
    assert.ok(out.finetune.trainedParams < out.finetune.totalParams);
    assert.ok(out.finetune.accuracy > out.finetune.majority, JSON.stringify(out.finetune));
    // One label per user asked, a class of the attribute, with probabilities summing to 1.
    assert.deepEqual(out.predict.map((p) => p.user), ['u1', 'u2', 'u3', 'u4', 'u5']);
    for (const p of out.predict) {
      assert.ok(['F', 'M'].includes(p.label), p.label);
      assert.deepEqual(Object.keys(p.probabilities).sort(), ['F', 'M']);
      assert.ok(Math.abs(p.probabilities.F! + p.probabilities.M! - 1) < 1e-5);
      assert.equal(p.label, p.probabilities.F! >= p.probabilities.M! ? 'F' : 'M');
    }
    assert.equal(out.recommend.items.length, 3);
    assert.ok(out.recommend.items[0]!.score >= out.recommend.items[2]!.score);
  });
});
