import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { backend } from '../../src/index.js';

const k = backend();
const initial = k.info();
after(() => {
  k.setThreads(initial.threads);
  k.setDeterministic(initial.deterministic);
});

const BACKEND_URL = new URL('../../src/tensor/backend.js', import.meta.url).href;

/** Runs `body` (an async function body with `k`, the addon as that worker loads it) in a worker thread. */
function inWorker(body: string, workerData: unknown = null): Promise<unknown> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(BACKEND_URL)}).then(async ({ backend }) => {
      const k = backend();
      parentPort.postMessage(await (async () => { ${body} })());
    }).catch((err) => parentPort.postMessage({ error: String(err && err.stack || err) }));`;
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData });
    w.once('message', (m) => {
      if (m && typeof m === 'object' && 'error' in m) reject(new Error(String(m.error)));
      else resolve(m);
    });
    w.once('error', reject);
    w.once('exit', (code) => (code !== 0 ? reject(new Error(`worker exited with ${code}`)) : undefined));
  });
}

describe('the addon in worker_threads', () => {
  it('loading it in a worker leaves the process-wide settings (threads, deterministic mode, GEMM backend) alone', async () => {
    k.setThreads(7);
    k.setDeterministic(true);
    const before = k.info();
    const seen = await inWorker('return k.info();') as typeof before;
    assert.deepEqual(k.info(), before, 'the main thread\'s settings after a worker loaded the addon');
    assert.deepEqual(seen, before, 'the worker sees the process settings');
  });

  it('setThreads from a worker while the main thread runs parallel kernels neither hangs, crashes nor changes results', () => {
    // In a child process with a time limit: a pool resized under a running job deadlocks its caller, which a test
    // in this process could not time out.
    const script = `
      const { Worker } = await import('node:worker_threads');
      const { backend } = await import(${JSON.stringify(BACKEND_URL)});
      const k = backend();
      k.setDeterministic(true);
      k.setThreads(2);
      const n = 192;
      const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
      const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
      const product = () => { const c = new Float32Array(n * n); k.gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n); return c; };
      const expected = product();
      const stop = new Int32Array(new SharedArrayBuffer(8));
      const w = new Worker(\`
        Promise.all([import('node:worker_threads'), import(${JSON.stringify(BACKEND_URL)})]).then(([{ workerData: stop }, { backend }]) => {
          const k = backend();
          while (Atomics.load(stop, 0) === 0) { k.setThreads(1 + (stop[1] % 3)); Atomics.add(stop, 1, 1); }
        });\`, { eval: true, workerData: stop });
      while (Atomics.load(stop, 1) === 0) await new Promise((r) => setTimeout(r, 5));
      k.resetPoolStats();
      for (let round = 0; round < 300; round++) {
        const c = product();
        if (c.some((v, i) => v !== expected[i])) throw new Error('round ' + round + ': the product changed');
      }
      const shared = k.poolStats().sharedTasks;
      Atomics.store(stop, 0, 1);
      await new Promise((r) => w.once('exit', r));
      console.log(JSON.stringify({ resizes: stop[1], shared }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `the child was killed (${r.signal}): it hung or crashed; ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const { resizes, shared } = JSON.parse(r.stdout) as { resizes: number; shared: number };
    assert.ok(resizes > 10, `the worker resized the pool ${resizes} times`);
    // The products must really have run on the pool while it was resized, not serially beside it.
    assert.ok(shared > 1, `only ${shared} pool task(s) were shared while the worker resized the pool`);
  });
});
