import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cliSyntheticDataset, runCli as run } from '../helpers/cli.js';
import { tempDir } from '../helpers/datasets.js';


interface ModelDirJson {
  model: Record<string, unknown>;
  train: Record<string, unknown>;
  dataset: string;
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

let dir: string;
let ds: string;
let model: string;

before(() => {
  dir = tempDir();
  ds = cliSyntheticDataset(dir, '--users', '120', '--items', '40', '--domains', '1', '--mean-length', '8');
  // A YAML file for most settings; the command line overrides three of them, one with the option's default value.
  const yaml = join(dir, 'run.yaml');
  writeFileSync(yaml, [
    `data: ${ds}`, 'dim: 8', 'blocks: 1', 'maxLen: 8', 'epochs: 1', 'lr: 0.004', 'patience: 5', 'lengthBuckets: true',
    'dilations: [1, 2]', 'heldOutWeight: 0.5', 'threads: 1', 'quiet: true', '',
  ].join('\n'));
  model = join(dir, 'model');
  const p = run('pretrain', '--config', yaml, '--out', model, '--lr', '0.002', '--patience', '3', '--no-length-buckets');
  assert.equal(p.status, 0, p.stderr);
});

describe('config files (--config run.yaml|run.json)', () => {
  it('pretrain: a flag beats the file, the file beats the default (read back from config.json)', () => {
    const { model: m, train: t } = readJson(join(model, 'config.json')) as unknown as ModelDirJson;
    // From the file, over the defaults (50, 8, 20, [1, 4], 0).
    assert.equal(m.maxLen, 8);
    assert.equal(m.dim, 8);
    assert.equal(m.blocks, 1);
    assert.equal(t.epochs, 1);
    assert.deepEqual(m.dilations, [1, 2]);
    assert.deepEqual(t.heldOut, { weight: 0.5, rate: 0.5 });
    // Typed on the command line, over the file, even where the flag's value is the default (patience 3).
    assert.equal(t.lr, 0.002);
    assert.equal(t.patience, 3);
    assert.equal(t.lengthBuckets, false);
    // In neither: the defaults.
    assert.equal(t.batch, 128);
    assert.equal(m.kernelSize, 3);
  });

  it('pretrain: a model directory\'s config.json reproduces its run\'s settings (the dataset included)', () => {
    const again = join(dir, 'again');
    const p = run('pretrain', '--config', join(model, 'config.json'), '--out', again, '--threads', '1', '--quiet');
    assert.equal(p.status, 0, p.stderr);
    const a = readJson(join(model, 'config.json')) as unknown as ModelDirJson;
    const b = readJson(join(again, 'config.json')) as unknown as ModelDirJson;
    assert.deepEqual({ model: b.model, train: b.train }, { model: a.model, train: a.train });
    assert.equal(b.dataset, ds);
    // A flag still wins over the file's nested settings.
    const changed = join(dir, 'changed');
    const q = run('pretrain', '--config', join(model, 'config.json'), '--out', changed, '--data', ds, '--max-len', '6', '--threads', '1', '--quiet');
    assert.equal(q.status, 0, q.stderr);
    const c = readJson(join(changed, 'config.json')) as unknown as ModelDirJson;
    assert.deepEqual({ model: c.model, train: c.train }, { model: { ...a.model, maxLen: 6 }, train: a.train });
  });

  it('pretrain: the nested objective of config.json maps to --objective (train over model)', () => {
    const file = join(dir, 'masked.json');
    writeFileSync(file, JSON.stringify({ dataset: ds, model: { objective: 'causal', dim: 8, blocks: 1, maxLen: 8 }, train: { objective: 'masked', epochs: 1, negatives: 5, contrastive: { weight: 0.2 } } }));
    const out = join(dir, 'masked');
    const p = run('pretrain', '--config', file, '--out', out, '--threads', '1', '--quiet');
    assert.equal(p.status, 0, p.stderr);
    const { model: m, train: t } = readJson(join(out, 'config.json')) as unknown as ModelDirJson;
    assert.equal(m.objective, 'masked');
    assert.equal(t.objective, 'masked');
    assert.equal(t.negatives, 5);
    assert.equal((t.contrastive as { weight: number }).weight, 0.2);
  });

  it('finetune: a flag beats the file, the file beats the default (read back from task.json)', () => {
    const yaml = join(dir, 'task.yaml');
    writeFileSync(yaml, [`model: ${model}`, `data: ${ds}`, 'task: gender', 'label: gender', 'epochs: 1', 'dropout: 0.1',
      'weightDecay: 0.05', 'itemBag: false', 'threads: 1', 'quiet: true', ''].join('\n'));
    const out = join(dir, 'patch');
    const f = run('finetune', '--config', yaml, '--out', out, '--dropout', '0.3', '--seed', '4');
    assert.equal(f.status, 0, f.stderr);
    const card = readJson(join(out, 'task.json')) as { provenance: { seed: number; config: Record<string, unknown> } };
    const c = card.provenance.config;
    assert.equal(c.dropout, 0.3);
    assert.equal(c.weightDecay, 0.05);
    assert.equal(c.epochs, 1);
    assert.deepEqual(c.reading, { pooling: 'mean', windows: 0, itemBag: false });
    assert.equal(c.patience, 5);
    assert.equal(card.provenance.seed, 4);
  });

  it('experiment transfer: lists from the file, a flag over them', () => {
    const json = join(dir, 'experiment.json');
    writeFileSync(json, JSON.stringify({ model, data: ds, task: 'gender', label: 'gender', strategies: ['fine-cls'], seeds: [1, 2], epochs: 1, threads: 1 }));
    const out = join(dir, 'exp');
    const e = run('experiment', 'transfer', '--config', json, '--seeds', '3', '--out', out);
    assert.equal(e.status, 0, e.stderr);
    const results = readJson(join(out, 'results.json')) as { provenance: { seed: number[]; config: { strategies: string[]; epochs: number } } };
    assert.deepEqual(results.provenance.seed, [3]);
    assert.deepEqual(results.provenance.config.strategies, ['fine-cls']);
    assert.equal(results.provenance.config.epochs, 1);
  });

  const bad: { name: string; ext?: string; text: string; expect: RegExp }[] = [
    { name: 'an unknown key', text: 'maxlen: 8\n', expect: /: maxlen: unknown key \(did you mean "maxLen"\?\)/ },
    { name: 'an unknown nested key', text: 'model:\n  width: 8\n', expect: /: model\.width: unknown key/ },
    { name: 'a string for a number', text: 'maxLen: "8"\n', expect: /: maxLen: must be a number, got string "8"/ },
    { name: 'a number for a flag', text: 'lengthBuckets: 1\n', expect: /: lengthBuckets: must be true or false/ },
    { name: 'a value out of range', text: 'maxLen: 1\n', expect: /: maxLen: max-len must be an integer ≥ 2, got "1"/ },
    { name: 'a nested value out of range', text: 'train:\n  contrastive:\n    crop: 0\n', expect: /: train\.contrastive\.crop: crop must be a number in \(0, 1\]/ },
    { name: 'a value not among the choices', text: 'backbone: lstm\n', expect: /: backbone: backbone must be one of nextitnet/ },
    { name: 'a list of the wrong things', text: 'dilations: [1, two]\n', expect: /: dilations: must be a list of numbers/ },
    { name: 'one setting given twice', text: 'maxLen: 8\nmodel:\n  maxLen: 9\n', expect: /: model\.maxLen: sets maxLen, which maxLen already sets/ },
    { name: 'invalid YAML', text: 'maxLen: [8\n', expect: /: not valid YAML/ },
    { name: 'invalid JSON', ext: '.json', text: '{"maxLen": 8,}', expect: /: not valid JSON/ },
    { name: 'a list instead of a mapping', text: '- 8\n', expect: /: must hold a mapping of option names to values, not a list/ },
    { name: 'another extension', ext: '.toml', text: 'maxLen = 8\n', expect: /: a config file must end in \.yaml, \.yml or \.json/ },
  ];
  for (const [i, c] of bad.entries()) {
    it(`pretrain refuses ${c.name}: one line naming the file and the key, exit code 1, nothing written`, () => {
      const file = join(dir, `bad-${i}${c.ext ?? '.yaml'}`);
      writeFileSync(file, c.text);
      const out = join(dir, `bad-out-${i}`);
      const p = run('pretrain', '--config', file, '--data', ds, '--out', out, '--epochs', '1', '--quiet');
      assert.equal(p.status, 1);
      const lines = p.stderr.trim().split('\n');
      assert.equal(lines.length, 1, p.stderr);
      assert.ok(lines[0]!.startsWith(`graftrec: ConfigError: ${file}: `), p.stderr);
      assert.match(lines[0]!, c.expect);
      assert.equal(existsSync(out), false);
    });
  }

  it('a missing config file, and a required option in neither place, are one line each', () => {
    const missing = run('pretrain', '--config', join(dir, 'none.yaml'), '--data', ds, '--out', join(dir, 'none-out'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr.trim(), /^graftrec: ConfigError: .*none\.yaml: cannot read the config file \(ENOENT\)$/);
    const file = join(dir, 'no-out.yaml');
    writeFileSync(file, `data: ${ds}\n`);
    const noOut = run('pretrain', '--config', file);
    assert.equal(noOut.status, 1);
    assert.match(noOut.stderr, /required option '--out <dir>' not specified \(on the command line or in .*no-out\.yaml\)/);
  });

  it('finetune and experiment transfer check their files the same way, before any work', () => {
    const file = join(dir, 'bad-task.yaml');
    writeFileSync(file, `model: ${model}\ndata: ${ds}\ntask: gender\nlabel: gender\nweight-decay: 0.1\n`);
    const out = join(dir, 'bad-patch');
    const f = run('finetune', '--config', file, '--out', out);
    assert.equal(f.status, 1);
    assert.match(f.stderr.trim(), /^graftrec: ConfigError: .*bad-task\.yaml: weight-decay: unknown key \(did you mean "weightDecay"\?\)/);
    assert.equal(existsSync(out), false);
    const json = join(dir, 'bad-experiment.json');
    writeFileSync(json, JSON.stringify({ model, data: ds, task: 'gender', label: 'gender', seeds: [1, 0.5] }));
    const e = run('experiment', 'transfer', '--config', json, '--out', join(dir, 'bad-exp'));
    assert.equal(e.status, 1);
    assert.match(e.stderr.trim(), /^graftrec: ConfigError: .*bad-experiment\.json: seeds: seeds must be a comma-separated list of positive integers/);
    assert.equal(existsSync(join(dir, 'bad-exp')), false);
  });
});
