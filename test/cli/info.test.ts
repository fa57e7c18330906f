import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { datasetHash } from '../../src/data/dataset.js';
import { backend } from '../../src/tensor/index.js';
import { cliSyntheticDataset, runCli as run } from '../helpers/cli.js';
import { tempDir } from '../helpers/datasets.js';

const root = new URL('../../../', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

interface StoredProvenance {
  graftrec: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  node: string;
  backend: { cpuIsa: string; gemm: string; blas: string | null; threads: number };
  deterministic: boolean;
  seed: number | number[];
  config: Record<string, unknown>;
  dataset: { path: string; sha256: string };
  createdAt: string;
}

let dir: string;
let ds: string;
let model: string;
let patch: string;

function expectedCommit(): string | null {
  if (!existsSync(join(root, '.git'))) return null;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** What every provenance record must say about this code and this machine. */
function assertRunFacts(p: StoredProvenance): void {
  assert.equal(p.graftrec, version);
  assert.equal(p.gitCommit, expectedCommit());
  assert.equal(typeof p.gitDirty, p.gitCommit === null ? 'object' : 'boolean');
  assert.equal(p.node, process.version);
  const info = backend().info();
  assert.deepEqual(p.backend, { cpuIsa: info.builtinIsa, gemm: info.gemmBackend, blas: info.blasPath || null, threads: 1 });
  assert.equal(p.deterministic, info.deterministic);
  assert.ok(Number.isFinite(Date.parse(p.createdAt)));
}

before(async () => {
  dir = tempDir();
  ds = cliSyntheticDataset(dir, '--users', '150', '--items', '60', '--domains', '1', '--mean-length', '8');
  model = join(dir, 'model');
  const p = run('pretrain', '--data', ds, '--out', model, '--dim', '8', '--blocks', '1', '--max-len', '8', '--epochs', '2',
    '--lr', '0.004', '--seed', '7', '--threads', '1', '--quiet');
  assert.equal(p.status, 0, p.stderr);
  patch = join(dir, 'patch');
  const f = run('finetune', '--model', model, '--data', ds, '--task', 'gender', '--label', 'gender', '--epochs', '2', '--seed', '3',
    '--threads', '1', '--out', patch, '--quiet');
  assert.equal(f.status, 0, f.stderr);
});

describe('provenance', () => {
  it('a model directory records the code, machine, seed, full config and dataset hash', async () => {
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { provenance: StoredProvenance; model: unknown; train: unknown };
    const p = config.provenance;
    assertRunFacts(p);
    assert.equal(p.seed, 7);
    // The full resolved config: defaults filled in, the same as the file's own.
    assert.deepEqual(p.config, { model: config.model, train: config.train });
    assert.equal((p.config.train as { lr: number }).lr, 0.004);
    assert.equal((p.config.model as { blocks: number; kernelSize: number }).kernelSize, 3);
    assert.deepEqual(p.dataset, { path: ds, sha256: await datasetHash(ds) });
  });

  it('a patch card records the fine-tuning run, with the base it was trained on', async () => {
    const card = JSON.parse(readFileSync(join(patch, 'task.json'), 'utf8')) as { provenance: StoredProvenance; baseFingerprint: string };
    const p = card.provenance;
    assertRunFacts(p);
    assert.equal(p.seed, 3);
    assert.equal(p.config.strategy, 'peterrec');
    assert.equal(p.config.epochs, 2);
    assert.equal(p.config.model, model);
    assert.equal(p.config.baseFingerprint, card.baseFingerprint);
    assert.equal(typeof p.config.lr, 'number');
    assert.deepEqual(p.dataset, { path: ds, sha256: await datasetHash(ds) });
  });

  it('experiment results record the seeds and the grid', async () => {
    const out = join(dir, 'exp');
    const r = run('experiment', 'transfer', '--model', model, '--data', ds, '--task', 'gender', '--label', 'gender', '--strategies', 'fine-cls',
      '--seeds', '1,2', '--epochs', '1', '--threads', '1', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const p = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { provenance: StoredProvenance }).provenance;
    assertRunFacts(p);
    assert.deepEqual(p.seed, [1, 2]);
    assert.deepEqual(p.config.strategies, ['fine-cls']);
    assert.equal(p.dataset.sha256, await datasetHash(ds));
    // The table says it too, in one line after the rows (printed and in results.md).
    const table = readFileSync(join(out, 'results.md'), 'utf8');
    assert.equal(table, r.stdout);
    assert.match(table, new RegExp(`\\n\\nProvenance: graftrec ${version.replace(/\./g, '\\.')}.*; seeds 1,2; data ${ds} \\(sha256 ${p.dataset.sha256}\\)\\.\\n$`));
  });
});

describe('graftrec info', () => {
  it('describes a model: network, size, metrics and provenance', () => {
    const r = run('info', model);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^model\s+.*model$/m);
    assert.match(r.stdout, /network\s+nextitnet \(causal\), id items; dim 8, maxLen 8, blocks 1, kernelSize 3, dilations 1,4/);
    assert.match(r.stdout, /best validation NDCG@10 0\.\d{4} at epoch [12] of 2/);
    assert.match(r.stdout, new RegExp(`provenance\\s+graftrec ${version.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, /seed\s+7/);
    const json = JSON.parse(run('info', model, '--json').stdout) as { kind: string; items: number; parameters: number; training: { epochs: number }; provenance: StoredProvenance };
    assert.equal(json.kind, 'model');
    assert.equal(json.items, (JSON.parse(readFileSync(join(ds, 'dataset.json'), 'utf8')) as { numItems: number }).numItems);
    // Input table, output table and bias over items + 1 rows, plus the block's convolutions and norms.
    assert.ok(json.parameters > 2 * (json.items + 1) * 8);
    assert.equal(json.training.epochs, 2);
    assert.equal(json.provenance.seed, 7);
  });

  it('describes a patch: task, classes, strategy, test metrics and provenance', () => {
    const r = run('info', patch);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /task\s+gender \(classify\): label gender: F, M/);
    assert.match(r.stdout, /training\s+peterrec, serial-each-conv on a nextitnet base; [\d,]+ of [\d,]+ parameters trained/);
    assert.match(r.stdout, /test\s+users \d+, .*accuracy 0\.\d{4}/);
    assert.match(r.stdout, /backend\s+\w+, \w+ GEMM.*, 1 thread, deterministic (on|off)/);
    const json = JSON.parse(run('info', patch, '--json').stdout) as { kind: string; classes: string[]; provenance: StoredProvenance };
    assert.equal(json.kind, 'patch');
    assert.deepEqual(json.classes, ['F', 'M']);
    assert.equal(json.provenance.seed, 3);
  });

  it('describes a dataset with the hash provenance records', async () => {
    const r = run('info', ds, '--json');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { kind: string; users: number; attributes: string[]; sha256: string };
    assert.equal(json.kind, 'dataset');
    assert.equal(json.users, 150);
    assert.deepEqual(json.attributes, ['gender', 'age', 'life_stage']);
    assert.equal(json.sha256, await datasetHash(ds));
    assert.match(run('info', ds).stdout, /size\s+150 users, \d+ items, \d+ interactions/);
  });

  it('a directory that is none of these, or no directory: one line, exit 1', () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'hello');
    for (const [path, message] of [
      [other, /not a graftrec model, patch or dataset directory/],
      [join(dir, 'missing'), /missing: no such directory/],
      [join(other, 'notes.txt'), /notes\.txt: not a directory/],
      [join(dir, 'raw'), /not a graftrec model, patch or dataset directory/],
    ] as const) {
      const r = run('info', path);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});
