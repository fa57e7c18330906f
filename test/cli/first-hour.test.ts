import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { tempDir } from '../helpers/datasets.js';
import { catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli, runCli as run } from '../helpers/cli.js';


let dir: string;
let model: string;

before(() => {
  dir = tempDir();
  const { log } = writeCatalogue(dir, catalogue(1, 60), 'a');
  assert.equal(run('ingest', log, '--out', join(dir, 'ds')).status, 0);
  model = join(dir, 'model');
  const r = run('pretrain', '--data', join(dir, 'ds'), '--out', model, '--dim', '8', '--blocks', '1', '--max-len', '6', '--epochs', '1', '--quiet');
  assert.equal(r.status, 0, r.stderr);
});

describe('the command line, as a new user meets it', () => {
  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = run('--version');
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), version);
  });

  it('help shows list defaults as they are typed', () => {
    const r = run('pretrain', '--help');
    assert.match(r.stdout.replace(/\s+/g, ' '), /--dilations <list> block dilations, cycled \(default: 1,4\)/);
    assert.doesNotMatch(r.stdout, /default: \[/);
    assert.match(run('experiment', 'transfer', '--help').stdout.replace(/\s+/g, ' '), /\(default: 1,2,3\)/);
  });

  it('ingest says how sequences were ordered, and what --domain left out', () => {
    const log = join(dir, 'domains.csv');
    writeFileSync(log, 'user,item,domain,timestamp\n' + Array.from({ length: 12 }, (_, i) => `u${i % 3},i${i % 5},${i % 4 === 0 ? 'b' : 'a'},${100 - i}`).join('\n') + '\n');
    const r = run('ingest', log, '--domain', 'a', '--out', join(dir, 'ds-a'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { otherDomainRows: number; order: string; inputRows: number };
    assert.equal(summary.otherDomainRows, 3);
    assert.equal(summary.inputRows, 9);
    assert.match(summary.order, /by column timestamp/);
    const plain = run('ingest', join(dir, 'ainteractions.tsv'), '--out', join(dir, 'ds-plain'));
    assert.match(plain.stdout, /each user's items ordered in input order \(no time column\)/);
  });

  /** A log where most clicks go to five items (popularity is strong), ingested once. */
  const popularDataset = (): string => {
    const ds = join(dir, 'ds-popular');
    if (existsSync(ds)) return ds;
    let x = 7;
    const next = () => (x = (x * 48271) % 2147483647) / 2147483647;
    const rows = Array.from({ length: 200 }, (_, u) => Array.from({ length: 6 }, () => `u${u}\ti${next() < 0.8 ? Math.floor(next() * 5) : Math.floor(next() * 200)}`));
    const log = join(dir, 'popular.tsv');
    writeFileSync(log, 'user\titem\n' + rows.flat().join('\n') + '\n');
    assert.equal(run('ingest', log, '--out', ds).status, 0);
    return ds;
  };

  it('a model that ends no better than popularity says so', () => {
    // One epoch at a tiny rate learns nothing.
    const r = run('pretrain', '--data', popularDataset(), '--out', join(dir, 'weak'), '--dim', '8', '--blocks', '1', '--max-len', '6',
      '--epochs', '1', '--lr', '1e-7', '--quiet', '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { bestValidNDCG10: number; popularityValidNDCG10: number };
    assert.ok(summary.bestValidNDCG10 < summary.popularityValidNDCG10, r.stdout);
    assert.match(r.stderr, /warning: the best validation NDCG@10 \(.*\) is not above popularity's \(.*\): this model ranks no better/);
  });

  it('a run whose last epoch was its best says the model may still be improving, and only then', () => {
    // At 3e-3 validation still rises at epoch 3; at 1e-7 nothing moves after epoch 1.
    const pretrain = (out: string, lr: string) => run('pretrain', '--data', popularDataset(), '--out', join(dir, out), '--dim', '8',
      '--blocks', '1', '--max-len', '6', '--epochs', '3', '--lr', lr, '--threads', '1', '--quiet', '--json');
    const note = /note: the last epoch \(3\) was the best on validation, so the model may still be improving; more --epochs may give a better one/;
    const rising = pretrain('rising', '3e-3');
    assert.equal(rising.status, 0, rising.stderr);
    assert.deepEqual((({ epochs, bestEpoch, stoppedEarly }) => ({ epochs, bestEpoch, stoppedEarly }))(JSON.parse(rising.stdout)), { epochs: 3, bestEpoch: 3, stoppedEarly: false });
    assert.match(rising.stderr, note);
    const flat = pretrain('flat', '1e-7');
    assert.equal(flat.status, 0, flat.stderr);
    assert.equal((JSON.parse(flat.stdout) as { bestEpoch: number }).bestEpoch, 1);
    assert.doesNotMatch(flat.stderr, /note: the last epoch/);
  });

  it('a learning rate that blows the weights up stops with one line, not a loss of 1e7', () => {
    const r = run('pretrain', '--data', join(dir, 'ds'), '--out', join(dir, 'diverged'), '--dim', '8', '--blocks', '1', '--max-len', '6',
      '--epochs', '3', '--lr', '1000', '--quiet');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /training diverged at step \d+: loss .*, over 100× the .* of a uniform guess; lower --lr \(now 1000\)/);
  });

  it('finetune refuses to replace an existing patch directory unless --force, before any work', () => {
    const out = join(dir, 'patch');
    mkdirSync(out);
    writeFileSync(join(out, 'task.json'), '{}');
    const refused = run('finetune', '--model', join(dir, 'no-model'), '--data', join(dir, 'ds'), '--task', 't', '--label', 'x', '--out', out);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already exists and is not empty; pass --force/);
    assert.equal(readFileSync(join(out, 'task.json'), 'utf8'), '{}');
    // With --force the check is passed (this one then stops at the missing model).
    const forced = run('finetune', '--model', join(dir, 'no-model'), '--data', join(dir, 'ds'), '--task', 't', '--label', 'x', '--out', out, '--force');
    assert.equal(forced.status, 1);
    assert.doesNotMatch(forced.stderr, /already exists/);
  });

  it('--resume on a finished run says there is nothing to resume', () => {
    const r = run('pretrain', '--data', join(dir, 'ds'), '--out', model, '--epochs', '1', '--resume');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /nothing to resume: .* has already run 1 of 1 epochs; pass a larger --epochs/);
  });

  it('Ctrl-C during pretrain stops with one line saying what was kept (exit 130), and --resume continues', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, [cli, 'pretrain', '--data', join(dir, 'ds'), '--out', out, '--dim', '8', '--blocks', '1',
      '--max-len', '6', '--epochs', '100000', '--patience', '100000']);
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // One Ctrl-C only: a second one kills at once, by design.
      if (!sent && /epoch 2: loss/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 130, stderr.slice(-500));
    assert.match(stderr, /graftrec: interrupted: stopped in epoch \d+; .* holds the best model so far and the checkpoint of epoch \d+: continue with --resume/);
    const kept = Number(/checkpoint of epoch (\d+)/.exec(stderr)![1]);
    const resumed = run('pretrain', '--data', join(dir, 'ds'), '--out', out, '--resume', '--epochs', String(kept + 1), '--patience', '100000');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming from epoch ${kept} `));
    assert.match(resumed.stderr, new RegExp(`epoch ${kept + 1}: loss`));
  });

  it('serve: stdout holds one plain line (where it listens), stderr only JSON log lines', async () => {
    const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', '0', '--log-level', 'info']);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) resolve();
    }));
    const url = /^graftrec serving on (http:\/\/\S+)\n$/.exec(stdout)![1]!;
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(stdout.trim().split('\n').length, 1, stdout);
    const lines = stderr.trim().split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
  });

  it('serve on a busy port: one line naming the port, exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [cli, 'serve', '--model', model, '--port', String(port), '--log-level', 'silent']);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`port ${port} on 127.0.0.1 is already in use; choose another with --port`));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
    } finally {
      blocker.close();
    }
  });
});
