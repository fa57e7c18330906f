/**
 * Data-parallel pretraining under `mpirun -np 2 --oversubscribe`: the same losses and weights as one process with
 * the same global batch, files written by rank 0 only, a failed or killed rank ending the job, and the one-line
 * errors without a launcher or an MPI library. Skipped where Open MPI's mpirun is missing (failing under CI=true).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { floatTensors, readSafetensors } from '../../src/io/safetensors.js';
import { savedCyclicDataset, tempDir } from '../helpers/datasets.js';
import { MPIRUN, cli, env, mpiTest, run } from '../helpers/mpirun.js';

function pretrainArgs(data: string, out: string, extra: string[]): string[] {
  return [cli, 'pretrain', '--data', data, '--out', out, '--dim', '16', '--blocks', '2', '--layers', '1', '--heads', '2',
    '--max-len', '8', '--epochs', '2', '--lr', '0.005', '--quiet', ...extra];
}

async function weights(dir: string): Promise<Map<string, Float32Array>> {
  const path = join(dir, 'checkpoint', 'model.safetensors');
  return new Map([...floatTensors(await readSafetensors(path), path)].map(([k, v]) => [k, v.data]));
}

function epochs(dir: string): { trainLoss: number; valid: Record<string, number> }[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** Largest |a - b| over every weight. */
function largestDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

describe('distributed pretraining', () => {
  // The last case leaves deterministic mode: dense gradients then go through MPI_Allreduce itself. With 20 items
  // the ranks' touched rows outnumber an item table's, which is then summed whole; with 600 they travel as pairs.
  const cases: [string, string[], Record<string, string>, number?][] = [
    ['nextitnet, full softmax, a last batch of one window (one rank idle)', ['--batch', '59'], {}],
    ['nextitnet, sampled softmax', ['--batch', '16', '--negatives', '7'], {}],
    ['nextitnet, sampled softmax, 600 items: item rows exchanged as pairs', ['--batch', '16', '--negatives', '7'], {}, 600],
    // Dropout: each rank draws its rows of the whole batch's masks, so these runs are the single process's too.
    ['sasrec, bce loss, dropout 0.3', ['--backbone', 'sasrec', '--dropout', '0.3', '--loss', 'bce', '--batch', '16'], {}],
    ['bert4rec, masked items, dropout 0.3', ['--backbone', 'bert4rec', '--dropout', '0.3', '--batch', '16'], {}],
    ['gru4rec, dropout 0.3', ['--backbone', 'gru4rec', '--dropout', '0.3', '--batch', '16'], {}],
    ['nextitnet, MPI_Allreduce', ['--batch', '16'], { GRAFTREC_DETERMINISTIC: '0' }],
  ];
  for (const [name, extra, caseEnv, items = 20] of cases) {
    mpiTest(`2 ranks × a global batch train as 1 process with that batch (${name}); rank 0 alone writes`, async () => {
      const data = await savedCyclicDataset(60, items, 8);
      const dir = tempDir();
      const single = join(dir, 'single');
      assert.equal(run('node', pretrainArgs(data, single, extra), caseEnv).status, 0);
      // MPMD: rank 1 is given another --out, which it must never create.
      const rank0 = join(dir, 'rank0');
      const rank1 = join(dir, 'rank1');
      const r = run('mpirun', [...MPIRUN, '-np', '1', 'node', ...pretrainArgs(data, rank0, [...extra, '--distributed']),
        ':', '-np', '1', 'node', ...pretrainArgs(data, rank1, [...extra, '--distributed'])], caseEnv);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(!existsSync(rank1), 'rank 1 wrote files');
      for (const f of ['model.safetensors', 'config.json', 'training.json', 'checkpoint/state.json']) assert.ok(existsSync(join(rank0, f)), f);
      // Not bit-identical: each rank's GEMMs sum its half of the batch, and the halves are then added, where one
      // process sums the whole batch in one order; float32 rounding differs in the last bits.
      const [a, b] = [epochs(rank0), epochs(single)];
      a.forEach((e, i) => {
        assert.ok(Math.abs(e.trainLoss - b[i]!.trainLoss) <= 1e-6 * Math.abs(b[i]!.trainLoss), `epoch ${i + 1}: loss ${e.trainLoss} vs ${b[i]!.trainLoss}`);
        // Validation sharded by user: the same ranks, so the same metrics (the weights' last-bit differences flip no ranking here).
        assert.deepEqual(e.valid, b[i]!.valid, `epoch ${i + 1}`);
      });
      // Weights (of scale 0.05 to 1) agree to ~1e-7, except where the exact gradient is zero and Adam turns rounding
      // noise into steps of ~lr / 1000: the attention's key bias (softmax ignores a shift common to all keys).
      const worst = largestDifference(await weights(rank0), await weights(single));
      assert.ok(worst < 2e-5, `weights differ by up to ${worst}`);
    });
  }

  mpiTest('a distributed run resumed from its checkpoint ends with the weights of a straight run', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const dir = tempDir();
    const mpirun = (out: string, extra: string[]) =>
      run('mpirun', [...MPIRUN, '-np', '2', 'node', ...pretrainArgs(data, out, ['--batch', '16', '--negatives', '7', '--distributed', ...extra])]);
    assert.equal(mpirun(join(dir, 'straight'), ['--epochs', '3']).status, 0);
    assert.equal(mpirun(join(dir, 'resumed'), ['--epochs', '1']).status, 0);
    const r = mpirun(join(dir, 'resumed'), ['--epochs', '3', '--resume']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(join(dir, 'resumed', 'checkpoint', 'model.safetensors')), readFileSync(join(dir, 'straight', 'checkpoint', 'model.safetensors')));
  });

  mpiTest('a run resumed with another number of ranks continues where it stopped', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const dir = tempDir();
    const train = (np: number, out: string, extra: string[]) =>
      run('mpirun', [...MPIRUN, '-np', String(np), 'node', ...pretrainArgs(data, out, ['--batch', '16', '--negatives', '7', '--distributed', ...extra])]);
    assert.equal(train(2, join(dir, 'straight'), ['--epochs', '3']).status, 0);
    assert.equal(train(2, join(dir, 'resumed'), ['--epochs', '1']).status, 0);
    const r = train(1, join(dir, 'resumed'), ['--epochs', '3', '--resume']);
    assert.equal(r.status, 0, r.stderr);
    const [a, b] = [epochs(join(dir, 'resumed')), epochs(join(dir, 'straight'))];
    assert.equal(a.length, 3);
    // Epoch 1 is the 2-rank run itself; epochs 2-3 ran on one rank, whose sums round differently in the last bits.
    assert.equal(a[0]!.trainLoss, b[0]!.trainLoss);
    for (let i = 1; i < 3; i++) assert.ok(Math.abs(a[i]!.trainLoss - b[i]!.trainLoss) <= 1e-6 * Math.abs(b[i]!.trainLoss), `epoch ${i + 1}`);
    const worst = largestDifference(await weights(join(dir, 'resumed')), await weights(join(dir, 'straight')));
    assert.ok(worst < 2e-5, `weights differ by up to ${worst}`);
  });

  mpiTest("row-sparse sums: the union of the ranks' rows, added in rank order, the same bits on every rank", () => {
    const dir = tempDir();
    const script = join(dir, 'sum-rows.mjs');
    const communicator = new URL('../../src/distributed/communicator.js', import.meta.url).href;
    // 5 rows of 2; rank 0 marks rows 0, 2; rank 1 marks rows 2, 3. Unmarked rows hold junk that must not count.
    writeFileSync(script, `
      import { openCommunicator } from ${JSON.stringify(communicator)};
      const comm = openCommunicator();
      const r = comm.rank;
      const x = Float32Array.from({ length: 10 }, (_, i) => 100 * (r + 1) + i + 0.1);
      const mask = Uint8Array.from(r === 0 ? [1, 0, 1, 0, 0] : [0, 0, 1, 1, 0]);
      const bytes = comm.sumRows(x, mask, 2);
      console.log(JSON.stringify({ rank: r, x: Array.from(x), mask: Array.from(mask), bytes }));
      comm.finalize();
    `);
    const r = spawnSync('mpirun', [...MPIRUN, '-np', '2', 'node', script], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.rank - b.rank);
    const f = Math.fround;
    const rank0 = (i: number) => f(100 + i + 0.1);
    const rank1 = (i: number) => f(200 + i + 0.1);
    // Row 0: rank 0's; row 2: rank 0's + rank 1's; row 3: rank 1's; rows 1 and 4: each rank's own, untouched.
    const union = [1, 0, 1, 1, 0];
    for (const o of out) {
      assert.deepEqual(o.mask, union);
      assert.deepEqual(o.x.slice(0, 2), [rank0(0), rank0(1)]);
      assert.deepEqual(o.x.slice(4, 8), [f(rank0(4) + rank1(4)), f(rank0(5) + rank1(5)), rank1(6), rank1(7)]);
      // Each rank sent [count, 2 ids, 2 rows of 2 floats] as 4-byte words.
      assert.equal(o.bytes, 4 * (1 + 2 + 4));
    }
    assert.deepEqual(out[0].x.slice(2, 4), [f(100 + 2.1), f(100 + 3.1)]);
    assert.deepEqual(out[1].x.slice(2, 4), [f(200 + 2.1), f(200 + 3.1)]);
  });

  mpiTest('bench train --distributed: rank 0 prints one record with the ranks and the bytes each sent', () => {
    const r = spawnSync('mpirun', [...MPIRUN, '-np', '2', 'node', cli, 'bench', 'train', '--items', '500', '--dim', '16', '--blocks', '2',
      '--batch', '16', '--max-len', '8', '--negatives', '10', '--steps', '2', '--warmup', '1', '--json', '--distributed'], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!);
    assert.equal(record.ranks, 2);
    assert.ok(record.bytesSentPerStep > 0 && record.exchangeMsPerStep >= 0 && record.seqPerSec > 0, lines[0]);
  });

  mpiTest('several ranks without --distributed are refused, not left to write the same files', async () => {
    const data = await savedCyclicDataset(30, 10, 6);
    const out = join(tempDir(), 'm');
    const r = run('mpirun', [...MPIRUN, '-np', '2', 'node', ...pretrainArgs(data, out, [])]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /graftrec: DistributedError: started as one of 2 MPI ranks without --distributed/);
    assert.ok(!existsSync(out));
  });

  mpiTest('an objective that couples a batch\'s rows (contrastive) is refused with --distributed', async () => {
    const data = await savedCyclicDataset(30, 10, 6);
    const r = run('mpirun', [...MPIRUN, '-np', '1', 'node', ...pretrainArgs(data, join(tempDir(), 'm'), ['--objective', 'causal+contrastive', '--distributed'])]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--distributed trains the sequence objectives \(causal, masked\) only: the causal\+contrastive objective/);
  });

  it('--distributed without a launcher is one clear line and exit 1', async () => {
    const data = await savedCyclicDataset(30, 10, 6);
    const launcherless = Object.fromEntries(Object.entries(env).filter(([k]) => !/^(OMPI_|PMIX_|PMI_)/.test(k)));
    const r = spawnSync('node', pretrainArgs(data, join(tempDir(), 'm'), ['--distributed']), { env: launcherless, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^graftrec: DistributedError: --distributed needs an MPI launcher: run it as `mpirun -np N/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('--distributed without an MPI library is one clear line and exit 1', async () => {
    const data = await savedCyclicDataset(30, 10, 6);
    const r = run('node', pretrainArgs(data, join(tempDir(), 'm'), ['--distributed']),
      { OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '1', GRAFTREC_MPI: '/nonexistent/libmpi.so.40' });
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^graftrec: DistributedError: --distributed: cannot load the MPI library \(tried \/nonexistent\/libmpi\.so\.40\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  mpiTest('a rank that fails ends the job with its error at once', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const dir = tempDir();
    const started = Date.now();
    const r = run('mpirun', [...MPIRUN, '-np', '1', 'node', ...pretrainArgs(data, join(dir, 'a'), ['--distributed', '--epochs', '100000', '--patience', '100000']),
      ':', '-np', '1', 'node', ...pretrainArgs(join(dir, 'missing'), join(dir, 'b'), ['--distributed'])]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /graftrec: rank 1 of 2: .*missing/);
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  });

  mpiTest('a rank killed mid-training makes the others stop within seconds', async (t) => {
    const data = await savedCyclicDataset(60, 20, 8);
    const dir = tempDir();
    const pidFile = join(dir, 'rank1.pid');
    const args = pretrainArgs(data, join(dir, 'm'), ['--distributed', '--epochs', '100000', '--patience', '100000']);
    const script = join(dir, 'rank1.sh');
    writeFileSync(script, `echo $$ > ${pidFile}\nexec node ${args.map((a) => `'${a}'`).join(' ')}\n`);
    const job = spawn('mpirun', [...MPIRUN, '-np', '1', 'node', ...args, ':', '-np', '1', 'sh', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    job.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => job.on('exit', (code) => resolve(code)));
    // Training has begun once rank 0 wrote its first epoch (an epoch takes milliseconds here).
    while (!existsSync(join(dir, 'm', 'metrics.jsonl')) || !existsSync(pidFile)) await new Promise((r) => setTimeout(r, 100));
    const killed = Date.now();
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') job.kill('SIGKILL');
    assert.notEqual(code, 'hung', 'the job did not stop within 30 s');
    assert.notEqual(code, 0);
    t.diagnostic(`the job ended ${Date.now() - killed} ms after rank 1 was killed`);
    assert.ok(Date.now() - killed < 15_000, `stopped ${Date.now() - killed} ms after the kill`);
    assert.ok(stderr.length > 0);
  });
});
