import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  closeSync, constants, cpSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { StartedServer, createServer } from '../../src/serve/start.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { baseFingerprint, loadPatchDir, writePatchDir } from '../../src/transfer/patchfile.js';
import { predictTask } from '../../src/transfer/predict.js';
import { TaskSpec, runTask, taskCardFor } from '../../src/transfer/tasks.js';
import { tempDir } from '../helpers/datasets.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';

let modelDir: string;
let dataDir: string;
let patchesDir: string;
let data: Dataset;
let server: StartedServer;
let url: string;
const ADMIN_TOKEN = 'test-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function makePatch(spec: TaskSpec, task: string, out: string): Promise<void> {
  const base = await loadModelDir(modelDir);
  const r = runTask(spec, { task, dataset: data, datasetName: 'ds', baseItems: base.items, baseConfig: base.config.model }, {
    ...TUNING_DEFAULTS, model: base.model, strategy: 'peterrec', insertion: 'serial-each-conv', epochs: 1, batch: 64, lr: 0.003,
    patience: 1, testFraction: 0.2, seed: 1,
  });
  await writePatchDir(out, taskCardFor(spec, r, await baseFingerprint(modelDir), null), r);
}

async function start(options: {
  ignoreUnknownItems?: boolean; batchWaitMs?: number; watch?: boolean; watchDebounceMs?: number; bodyLimit?: number;
  adminToken?: string | null;
} = {}) {
  const s = await createServer({
    model: modelDir, patches: patchesDir, data: dataDir, watch: options.watch ?? false,
    watchDebounceMs: options.watchDebounceMs, ignoreUnknownItems: options.ignoreUnknownItems ?? false,
    batchWaitMs: options.batchWaitMs ?? 2, maxBatch: 64, bodyLimit: options.bodyLimit ?? 1 << 20, logger: false,
    adminToken: options.adminToken === undefined ? ADMIN_TOKEN : options.adminToken,
  });
  const address = await s.app.listen({ port: 0, host: '127.0.0.1' });
  return { s, address };
}

async function call(method: string, path: string, body?: unknown, base = url, raw?: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const reload = (base = url) => call('POST', '/v1/tasks/reload', undefined, base, undefined, ADMIN);

/** A copy of the gender patch under another task name, staged outside `dir` and moved in as `dir/name`. */
function copyGenderPatch(dir: string, name: string, task = name): string {
  const staged = join(tempDir(), 'staged');
  cpSync(join(patchesDir, 'gender'), staged, { recursive: true });
  const card = JSON.parse(readFileSync(join(staged, 'task.json'), 'utf8'));
  writeFileSync(join(staged, 'task.json'), JSON.stringify({ ...card, task }));
  const target = join(dir, name);
  renameSync(staged, target);
  return target;
}

before(async () => {
  const root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 500, items: 120, domains: 2, seed: 9 });
  dataDir = join(root, 'ds');
  await ingest({ input: join(root, 'raw', 'interactions.csv'), attributes: join(root, 'raw', 'users.csv'), out: dataDir });
  data = await loadDataset(dataDir);
  modelDir = join(root, 'model');
  await pretrain({
    data: dataDir, out: modelDir, model: { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 20 },
    train: { ...TRAIN_DEFAULTS, epochs: 1, batch: 64 },
  });
  patchesDir = join(root, 'patches');
  mkdirSync(patchesDir);
  await makePatch({ type: 'classify', label: 'gender', bins: null }, 'gender', join(patchesDir, 'gender'));
  await makePatch({ type: 'recommend', sourceDomain: 'A', targetDomain: 'B', negatives: 0, itemPairs: true, ks: [10] }, 'shop-b', join(patchesDir, 'shop-b'));
  const started = await start();
  server = started.s;
  url = started.address;
});

after(async () => {
  await server?.close();
});

describe('HTTP serving: one base, many patches', () => {
  it('health, task list (cards, shared base fingerprint) and the OpenAPI document', async () => {
    const health = await call('GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.tasks, 2);
    const tasks = await call('GET', '/v1/tasks');
    assert.deepEqual(tasks.body.tasks.map((t: { task: string; type: string }) => `${t.task}:${t.type}`).sort(), ['gender:classify', 'shop-b:recommend']);
    assert.equal(tasks.body.base.fingerprint, await baseFingerprint(modelDir));
    const shop = tasks.body.tasks.find((t: { task: string }) => t.task === 'shop-b');
    assert.ok(shop.card.targetItemCount > 10 && !('targetItems' in shop.card));
    // This base was pretrained on both domains: the card says the task is not a cold start.
    assert.ok(shop.card.test.targetItemsKnownToBase > 0);
    assert.match(shop.card.test.protocol, /NOT a cold start/);
    const docs = await call('GET', '/docs/json');
    assert.equal(docs.status, 200);
    for (const path of ['/v1/recommend', '/v1/predict/{task}', '/v1/embed', '/v1/tasks', '/v1/tasks/reload', '/healthz']) {
      assert.ok(path in docs.body.paths, path);
    }
  });

  it('predict, recommend and embed answer for a user or a sequence, and agree with direct computation', async () => {
    const user = data.users[3]!;
    const p = await call('POST', '/v1/predict/gender', { user });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const sum = Object.values(p.body.probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    const items = ['a1', 'a7', 'a30', 'a2'];
    const byItems = await call('POST', '/v1/predict/gender', { items });
    const base = await loadModelDir(modelDir);
    const task = await loadPatchDir(join(patchesDir, 'gender'), base, await baseFingerprint(modelDir));
    const index = new Map(base.items.map((r, i) => [r, i + 1]));
    const [direct] = predictTask(task, [Int32Array.from(items, (r) => index.get(r)!)], { k: 1 });
    assert.deepEqual({ label: byItems.body.label, probabilities: byItems.body.probabilities }, direct);

    const next = await call('POST', '/v1/recommend', { items, k: 5 });
    assert.equal(next.status, 200);
    assert.equal(next.body.recommendations.length, 5);
    assert.ok(next.body.recommendations.every((r: { item: string }) => !items.includes(r.item)));
    const withSeen = await call('POST', '/v1/recommend', { items, k: 1000, excludeSeen: false });
    assert.equal(withSeen.body.recommendations.length, base.items.length, 'k is capped at the catalogue');

    const cross = await call('POST', '/v1/recommend', { user, task: 'shop-b', k: 4 });
    assert.equal(cross.status, 200, JSON.stringify(cross.body));
    assert.equal(cross.body.recommendations.length, 4);
    assert.ok(cross.body.recommendations.every((r: { item: string }) => r.item.startsWith('b')));
    const scores = cross.body.recommendations.map((r: { score: number }) => r.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));

    const e = await call('POST', '/v1/embed', { items });
    assert.equal(e.body.dim, 16);
    assert.equal(e.body.vector.length, 16);
    const eTask = await call('POST', '/v1/embed', { items, task: 'gender' });
    assert.notDeepEqual(eTask.body.vector, e.body.vector, 'the patched network gives its own user vector');
  });

  it('bad input is a clear 4xx, never a crash', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/v1/predict/gender', { items: ['a1', 'nope'] }, 400, /unknown item ids .*: nope/],
      ['POST', '/v1/predict/gender', { items: ['a1'], user: data.users[0] }, 400, /exactly one of "user" or "items"/],
      ['POST', '/v1/predict/gender', {}, 400, /exactly one of "user" or "items"/],
      ['POST', '/v1/predict/gender', { items: [] }, 400, /must NOT have fewer than 1 items/],
      ['POST', '/v1/predict/gender', { items: [3] }, 400, /must be string/],
      ['POST', '/v1/predict/gender', { user: 'nobody' }, 404, /unknown user "nobody"/],
      ['POST', '/v1/predict/nope', { items: ['a1'] }, 404, /unknown task "nope" \(loaded: /],
      ['POST', '/v1/predict/shop-b', { items: ['a1'] }, 400, /is a recommend task/],
      ['POST', '/v1/recommend', { items: ['a1'], task: 'gender' }, 400, /is a classify task/],
      ['POST', '/v1/recommend', { items: ['a1'], k: 0 }, 400, /k must be >= 1/],
      ['POST', '/v1/recommend', { items: ['a1'], k: 100000 }, 400, /k must be <= 1000/],
      ['POST', '/v1/recommend', { items: ['a1'], k: '5' }, 400, /k must be integer/],
      ['POST', '/v1/recommend', { items: ['a1'], colour: 'red' }, 400, /body has an unknown field "colour"/],
      ['GET', '/v1/nothing', undefined, 404, /no route GET \/v1\/nothing/],
      ['GET', '/v1/recommend', undefined, 405, /GET \/v1\/recommend: use POST/],
      ['POST', '/v1/tasks', {}, 405, /POST \/v1\/tasks: use GET/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await call(method, path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, message, JSON.stringify(body));
      assert.equal(typeof r.body.error, 'string');
    }
    assert.equal((await fetch(`${url}/v1/recommend`)).headers.get('allow'), 'POST');
    const broken = await call('POST', '/v1/embed', undefined, url, '{"items": [');
    assert.equal(broken.status, 400);
    const huge = await call('POST', '/v1/embed', { items: Array.from({ length: 200_000 }, (_, i) => `a${i}`) });
    assert.equal(huge.status, 413);
    assert.equal((await call('GET', '/healthz')).status, 200, 'still alive');
  });

  it('--ignore-unknown-items drops unknown ids and reports them', async () => {
    const { s, address } = await start({ ignoreUnknownItems: true });
    try {
      const r = await call('POST', '/v1/predict/gender', { items: ['a1', 'zz', 'a2'] }, address);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.ignoredItems, ['zz']);
      const none = await call('POST', '/v1/predict/gender', { items: ['zz'] }, address);
      assert.equal(none.status, 400);
      assert.match(none.body.message, /no known items/);
    } finally {
      await s.close();
    }
  });

  it('concurrent requests are micro-batched and get the same answers as one at a time', async () => {
    const sequences = Array.from({ length: 24 }, (_, i) => [`a${1 + i}`, `a${40 + i}`, `a${80 + (i % 30)}`]);
    const alone: unknown[] = [];
    for (const items of sequences) alone.push((await call('POST', '/v1/predict/gender', { items })).body);
    const before = (await call('GET', '/healthz')).body.batching;
    const together = await Promise.all(sequences.map((items) => call('POST', '/v1/predict/gender', { items })));
    // Same labels, same probabilities up to float32 rounding: a system BLAS may block a batched GEMM differently.
    together.forEach((r, i) => {
      const one = alone[i] as { label: string; probabilities: Record<string, number> };
      assert.equal(r.body.label, one.label);
      for (const [c, p] of Object.entries(one.probabilities)) assert.ok(Math.abs(r.body.probabilities[c] - p) < 1e-5, `${c}: ${r.body.probabilities[c]} vs ${p}`);
    });
    const after = (await call('GET', '/healthz')).body.batching;
    assert.equal(after.requests - before.requests, sequences.length);
    assert.ok(after.largest > 1, `a batch of more than one request formed: ${JSON.stringify(after)}`);
    assert.ok(after.batches - before.batches < sequences.length, `${after.batches - before.batches} forward passes for ${sequences.length} requests`);
  });

  it('hot reload adds, replaces and removes patches without dropping requests in flight', async () => {
    const copy = copyGenderPatch(patchesDir, 'gender-copy', 'gender2');
    const inFlight = Array.from({ length: 30 }, (_, i) => call('POST', '/v1/predict/gender', { items: [`a${i + 1}`] }));
    const report = await reload();
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(report.body.loaded, ['gender2']);
    assert.deepEqual(report.body.reloaded, []);
    assert.deepEqual(report.body.errors, []);
    assert.ok((await Promise.all(inFlight)).every((r) => r.status === 200));
    const firstAnswer = await call('POST', '/v1/predict/gender2', { items: ['a1'] });
    assert.equal(firstAnswer.status, 200);

    // Replaced: another patch's files copied over it keeping their old modification times (as `cp -p` and rsync
    // do), so only inode, size or status-change time tell. The card keeps the task name.
    const unchanged = await reload();
    assert.deepEqual([unchanged.body.loaded, unchanged.body.reloaded, unchanged.body.removed], [[], [], []]);
    const other = join(tempDir(), 'other-gender');
    await makePatch({ type: 'classify', label: 'gender', bins: null }, 'gender2', other);
    const times = tempDir();
    for (const f of ['task.json', 'patch.safetensors']) {
      // touch -r keeps the nanoseconds, as cp -p and rsync -t do.
      writeFileSync(join(times, f), '');
      assert.equal(spawnSync('touch', ['-r', join(copy, f), join(times, f)]).status, 0);
      cpSync(join(other, f), join(copy, f));
      assert.equal(spawnSync('touch', ['-r', join(times, f), join(copy, f)]).status, 0);
      assert.equal(statSync(join(copy, f), { bigint: true }).mtimeNs, statSync(join(times, f), { bigint: true }).mtimeNs);
    }
    const replaced = await reload();
    assert.deepEqual(replaced.body.reloaded, ['gender2'], JSON.stringify(replaced.body));
    assert.deepEqual(replaced.body.loaded, []);

    // A broken patch is reported and skipped; the others stay.
    const broken = join(patchesDir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'task.json'), '{"format": "graftrec-patch"}');
    writeFileSync(join(broken, 'patch.safetensors'), 'x');
    const withBroken = await reload();
    assert.equal(withBroken.body.errors.length, 1);
    assert.match(withBroken.body.errors[0].error, /invalid task card/);
    rmSync(broken, { recursive: true });

    rmSync(copy, { recursive: true });
    const removed = await reload();
    assert.deepEqual(removed.body.removed, ['gender2']);
    assert.equal((await call('POST', '/v1/predict/gender2', { items: ['a1'] })).status, 404);
  });

  it('a patch staged in a hidden .name.tmp-* directory (the atomic writer\'s) is not loaded', async () => {
    const hidden = copyGenderPatch(patchesDir, '.hidden.tmp-123', 'hidden');
    try {
      const r = await reload();
      assert.deepEqual([r.body.loaded, r.body.errors], [[], []], JSON.stringify(r.body));
      assert.equal((await call('POST', '/v1/predict/hidden', { items: ['a1'] })).status, 404);
    } finally {
      rmSync(hidden, { recursive: true });
    }
  });

  it('a reload asked for while a scan runs gets a scan that starts after it, so a patch dropped meanwhile is seen', async () => {
    // Every scan blocks reading the card of "aaa-slow" (a FIFO, listed first) until a writer comes: the first
    // scan is held after it listed the directory.
    const slow = join(patchesDir, 'aaa-slow');
    mkdirSync(slow);
    const fifo = join(slow, 'task.json');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    writeFileSync(join(slow, 'patch.safetensors'), 'x');
    // Feeds the FIFO (an invalid card: reported, skipped) to every scan that opens it until `scan` settles.
    const feedUntil = async <T>(scan: Promise<T>): Promise<T> => {
      let settled = false;
      void scan.finally(() => (settled = true)).catch(() => undefined);
      while (!settled) {
        try {
          const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
          writeSync(fd, '{}');
          closeSync(fd);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err; // ENXIO: no scan is reading it yet
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return scan;
    };
    try {
      const first = server.registry.reload();
      await new Promise((r) => setTimeout(r, 100));
      const late = copyGenderPatch(patchesDir, 'late');
      const second = server.registry.reload();
      const a = await feedUntil(first);
      const b = await feedUntil(second);
      assert.ok(!a.loaded.includes('late'), 'the first scan listed the directory before the patch arrived');
      assert.deepEqual(b.loaded, ['late'], JSON.stringify(b));
      rmSync(late, { recursive: true });
    } finally {
      rmSync(slow, { recursive: true, force: true });
      await server.registry.reload();
    }
  });

  it('POST /v1/tasks/reload needs the admin token, and is off without one', async () => {
    const none = await call('POST', '/v1/tasks/reload');
    assert.equal(none.status, 401);
    assert.match(none.body.message, /needs the server's admin token/);
    for (const authorization of [`Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(1)}`, ADMIN_TOKEN, 'Bearer ']) {
      const wrong = await call('POST', '/v1/tasks/reload', undefined, url, undefined, { authorization });
      assert.equal(wrong.status, 401, authorization);
    }
    assert.equal((await reload()).status, 200);
    const { s, address } = await start({ adminToken: null });
    try {
      const off = await call('POST', '/v1/tasks/reload', undefined, address, undefined, ADMIN);
      assert.equal(off.status, 403);
      assert.match(off.body.message, /admin routes are off: start the server with --admin-token/);
    } finally {
      await s.close();
    }
  });

  it('--watch picks up a patch directory moved into place', async () => {
    const { s, address } = await start({ watch: true });
    try {
      copyGenderPatch(patchesDir, 'watched');
      let seen = false;
      for (let i = 0; i < 50 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = (await call('GET', '/v1/tasks', undefined, address)).body.tasks.some((t: { task: string }) => t.task === 'watched');
      }
      assert.ok(seen, 'the watcher reloaded the tasks');
    } finally {
      rmSync(join(patchesDir, 'watched'), { recursive: true, force: true });
      await s.close();
    }
  });

  it('close() cancels a pending watcher reload', async () => {
    const { s } = await start({ watch: true, watchDebounceMs: 400 });
    let reloads = 0;
    s.registry.reload = async () => {
      reloads++;
      return { loaded: [], reloaded: [], removed: [], errors: [] };
    };
    writeFileSync(join(patchesDir, 'touch'), 'x');
    await new Promise((r) => setTimeout(r, 150)); // the change is seen; its reload waits for the quiet period
    await s.close();
    await new Promise((r) => setTimeout(r, 600));
    rmSync(join(patchesDir, 'touch'));
    assert.equal(reloads, 0, 'no reload after close');
  });

  it('hostile bodies are refused cleanly', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const cases: [string, unknown, string | undefined, number][] = [
      ['/v1/predict/gender', undefined, '{"items": ["a1"], "__proto__": {"polluted": true}}', 400],
      ['/v1/predict/gender', undefined, '{"items": ["a1"], "constructor": {"prototype": {"polluted": true}}}', 400],
      ['/v1/embed', undefined, `{"items": ${deep}}`, 400],
      ['/v1/predict/gender', undefined, '{"items": ["a1", "\\ud800"]}', 400],
      ['/v1/predict/gender', { items: Array.from({ length: 10_001 }, () => 'a1') }, undefined, 400],
      ['/v1/recommend', undefined, '{"items": ["a1"], "k": 1e308}', 400],
    ];
    for (const [path, body, raw, status] of cases) {
      const r = await call('POST', path, body, url, raw);
      assert.equal(r.status, status, `${raw ?? 'body'}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.message, 'string');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
    assert.equal((await call('GET', '/healthz')).status, 200, 'still alive');
  });
});
