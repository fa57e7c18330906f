import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { datasetHash } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { tempDir } from '../helpers/datasets.js';
import { CLI as cli } from '../helpers/cli.js';

const graftrec = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

let root: string;
let data: string;

before(async () => {
  root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 150, items: 100, domains: 1, seed: 3, meanLength: 8 });
  data = join(root, 'ds');
  await ingest({ input: join(root, 'raw', 'interactions.csv'), out: data });
});

describe('graftrec experiment backbones (tiny synthetic log, 1 epoch)', () => {
  it('pretrains each backbone and tables full and sampled metrics in [0, 1] with one row per backbone', async () => {
    const out = join(root, 'backbones.md');
    const r = graftrec('experiment', 'backbones', '--data', data, '--backbones', 'bert4rec,gru4rec', '--seeds', '1,2',
      '--epochs', '1', '--max-len', '8', '--threads', '1', '--out', out, '--quiet');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), r.stdout, '--out holds the printed table');
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| backbone') && !l.startsWith('| ---'));
    assert.deepEqual(rows.map((l) => l.split('|')[1]!.trim()), ['baseline: popularity', 'bert4rec', 'gru4rec']);
    for (const row of rows) {
      const cells = row.split('|').slice(2, 8).map((c) => c.trim());
      for (const cell of cells) {
        const [mean, std] = cell.split(' ± ').map(Number);
        assert.ok(mean! >= 0 && mean! <= 1 && std! >= 0 && std! <= 1, `${row}: ${cell}`);
      }
    }
    const sampledHr = (row: string) => Number(row.split('|')[5]!.split(' ± ')[0]);
    const fullHr = (row: string) => Number(row.split('|')[2]!.split(' ± ')[0]);
    for (const row of rows) assert.ok(sampledHr(row) >= fullHr(row), `${row}: 101 candidates rank the target at least as high as all items`);
    assert.match(r.stdout, /mean ± std over seeds 1, 2/);
    // The table says what made it, as the transfer experiment's does.
    const note = r.stdout.trim().split('\n').at(-1)!;
    assert.match(note, /^Provenance: graftrec \d+\.\d+\.\d+.*, node v\d+.*, created \S+; \w+, \w+ GEMM.*, 1 thread, deterministic (on|off); seeds 1,2; data /);
    assert.ok(note.endsWith(`data ${data} (sha256 ${await datasetHash(data)}).`), note);
  });

  it('--json prints each run with the provenance of the whole grid; an unknown backbone is refused naming the known ones', async () => {
    const r = graftrec('experiment', 'backbones', '--data', data, '--backbones', 'nextitnet', '--seeds', '4', '--epochs', '1',
      '--max-len', '8', '--threads', '1', '--json', '--quiet');
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { runs: { backbone: string; seed: number; full: Record<string, number>; parameters: number }[] };
    assert.deepEqual(result.runs.map((x) => [x.backbone, x.seed]), [['nextitnet', 4]]);
    assert.ok(result.runs[0]!.parameters > 0 && result.runs[0]!.full['NDCG@10']! >= 0);
    const { provenance } = JSON.parse(r.stdout) as { provenance: { seed: number[]; config: { backbones: string[]; maxLen: number; train: Record<string, unknown> }; dataset: { path: string; sha256: string }; backend: { threads: number } } };
    assert.deepEqual(provenance.seed, [4]);
    assert.deepEqual(provenance.config.backbones, ['nextitnet']);
    assert.equal(provenance.config.maxLen, 8);
    // The shared training settings in full: the experiment's epochs over pretraining's defaults.
    assert.equal(provenance.config.train.epochs, 1);
    assert.equal(provenance.config.train.batch, TRAIN_DEFAULTS.batch);
    assert.equal(provenance.config.train.lr, TRAIN_DEFAULTS.lr);
    assert.deepEqual(provenance.dataset, { path: data, sha256: await datasetHash(data) });
    assert.equal(provenance.backend.threads, 1);

    const refused = graftrec('experiment', 'backbones', '--data', data, '--backbones', 'sasrec,bert5rec');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /unknown bert5rec \(choose from nextitnet, sasrec, bert4rec, gru4rec\)/);
  });
});
