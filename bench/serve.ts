/**
 * Serving benchmark: a `graftrec serve` process (a random-weight base of the default shape plus one
 * classification patch, in a temp dir) driven over loopback by autocannon:
 *   1. low load: one connection, POST /v1/predict/:task with a 50-item sequence → latency p50 / p99 / max
 *   2. 64 concurrent connections with micro-batching, and again against a server started with
 *      --batch-wait-ms 0 (no batching) → requests/s and the ratio
 *   3. soak: N mixed valid / invalid requests → status counts per kind (no 5xx allowed), server alive, RSS
 *      before/after
 * Weights are random because only the amount of work matters for speed.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backbone, MODEL_DEFAULTS, ModelConfigSchema, TRAIN_DEFAULTS } from '../src/config/schema.js';
import { createEncoder } from '../src/models/encoders.js';
import { Rng } from '../src/tensor/index.js';
import { MODEL_FORMAT, vocabularyHash, writeModelFiles } from '../src/train/checkpoint.js';
import { checkInsertion, defaultInsertion, graftPatches } from '../src/transfer/insertion.js';
import { PATCH_FORMAT, baseFingerprint, writePatchDir } from '../src/transfer/patchfile.js';
import { applyStrategy } from '../src/transfer/strategies.js';
import { taskHead } from '../src/transfer/head.js';
import { Emit, percentile, round } from './timing.js';

export interface ServeBenchOptions {
  items: number;
  /** The base's backbone, at its default shape (a backbone without patch insertion points is refused). */
  backbone?: Backbone;
  historyLength: number;
  seconds: number;
  connections: number;
  soakRequests: number;
  threads?: number;
}

const TASK = 'bench-gender';
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

async function writeFixtures(dir: string, items: number, backbone: Backbone): Promise<{ model: string; patches: string; itemIds: string[] }> {
  const insertion = defaultInsertion(backbone);
  checkInsertion(insertion, backbone);
  // The backbone's own defaults (dim, layers, objective), not NextItNet's.
  const config = ModelConfigSchema.parse({ backbone, maxLen: MODEL_DEFAULTS.maxLen, numItems: items });
  const model = createEncoder(config, new Rng(1));
  const itemIds = Array.from({ length: items }, (_, i) => `i${i + 1}`);
  const modelDir = join(dir, 'model');
  mkdirSync(modelDir);
  await writeModelFiles(modelDir, {
    format: MODEL_FORMAT, version: 1, model: config, train: TRAIN_DEFAULTS, vocabularyHash: vocabularyHash(itemIds), dataset: 'random (benchmark)',
  }, model, itemIds);
  const patches = graftPatches(model, insertion, new Rng(2));
  const head = taskHead(2, config.dim, new Rng(3));
  const trained = applyStrategy('peterrec', model, patches, head.parameters());
  const trainedParams = trained.reduce((n, p) => n + p.size, 0);
  const patchesDir = join(dir, 'patches');
  mkdirSync(patchesDir);
  await writePatchDir(join(patchesDir, TASK), {
    format: PATCH_FORMAT, version: 1, task: TASK, type: 'classify', label: 'gender', classes: ['F', 'M'], bins: null,
    strategy: 'peterrec', insertion, backbone, patchDim: null, baseFingerprint: await baseFingerprint(modelDir),
    pooling: 'last', windows: 1, trainedParams, totalParams: trainedParams, test: {},
  }, { trained, head });
  return { model: modelDir, patches: patchesDir, itemIds };
}

interface Server {
  url: string;
  process: ChildProcess;
}

function startServer(model: string, patches: string, batchWaitMs: number, threads: number | undefined): Promise<Server> {
  const args = [CLI, 'serve', '--model', model, '--patches', patches, '--port', '0', '--log-level', 'warn',
    '--batch-wait-ms', String(batchWaitMs), ...(threads ? ['--threads', String(threads)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, process: child });
    });
    child.once('exit', (code) => reject(new Error(`graftrec serve exited with ${code} before listening`)));
  });
}

async function stopServer(s: Server): Promise<void> {
  if (s.process.exitCode !== null) return;
  const exited = new Promise((r) => s.process.once('exit', r));
  s.process.kill('SIGTERM');
  await exited;
}

async function rssMB(url: string): Promise<number> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { rssMB: number }).rssMB;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function load(url: string, connections: number, seconds: number, body: string): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/v1/predict/${TASK}`, method: 'POST', headers: JSON_HEADERS, body, connections, duration: seconds });
}


/**
 * Low-load latency at sub-millisecond resolution (autocannon's histogram counts whole milliseconds): requests
 * one after another over one keep-alive connection, each timed from send to the last byte.
 */
async function sequentialLatencies(url: string, path: string, body: string, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(url);
  const once = () => new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ hostname, port, path, method: 'POST', agent, headers: { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  const times: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) times.push(await once());
  agent.destroy();
  return times.sort((a, b) => a - b);
}


export async function runServeBench(o: ServeBenchOptions, emit: Emit): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'graftrec-bench-serve-'));
  const servers: Server[] = [];
  try {
    const fx = await writeFixtures(dir, o.items, o.backbone ?? MODEL_DEFAULTS.backbone);
    const rng = new Rng(7);
    const history = Array.from({ length: o.historyLength }, () => fx.itemIds[rng.int(0, fx.itemIds.length)]!);
    const body = JSON.stringify({ items: history });

    const batched = await startServer(fx.model, fx.patches, 2, o.threads);
    servers.push(batched);
    await load(batched.url, 1, 1, body); // warm-up
    const sequential = await sequentialLatencies(batched.url, `/v1/predict/${TASK}`, body, o.seconds);
    const low = await load(batched.url, 1, o.seconds, body);
    emit({
      bench: 'serve', scenario: 'low-load', backbone: o.backbone ?? MODEL_DEFAULTS.backbone, endpoint: 'POST /v1/predict/:task', historyLength: o.historyLength,
      connections: 1, requests: sequential.length, p50Ms: round(percentile(sequential, 50), 3),
      p99Ms: round(percentile(sequential, 99), 3), maxMs: round(sequential[sequential.length - 1]!, 3),
      autocannonP50Ms: low.latency.p50, autocannonP99Ms: low.latency.p99,
      requestsPerSec: round(low.requests.average, 1), non2xx: low.non2xx, errors: low.errors,
    });

    const withBatching = await load(batched.url, o.connections, o.seconds, body);
    const unbatchedServer = await startServer(fx.model, fx.patches, 0, o.threads);
    servers.push(unbatchedServer);
    await load(unbatchedServer.url, o.connections, 1, body);
    const without = await load(unbatchedServer.url, o.connections, o.seconds, body);
    await stopServer(unbatchedServer);
    emit({
      bench: 'serve', scenario: 'throughput', connections: o.connections,
      batchedRequestsPerSec: round(withBatching.requests.average, 1), batchedP50Ms: withBatching.latency.p50,
      batchedP99Ms: withBatching.latency.p99,
      unbatchedRequestsPerSec: round(without.requests.average, 1), unbatchedP50Ms: without.latency.p50,
      unbatchedP99Ms: without.latency.p99,
      batchingSpeedup: round(withBatching.requests.average / without.requests.average),
      non2xx: withBatching.non2xx + without.non2xx, errors: withBatching.errors + without.errors,
    });

    // Soak: 6 valid and 4 invalid requests in every 10, sent by 10 concurrent fetch loops so that each response
    // is checked against its own request (autocannon's counts go astray when the server closes a connection
    // after a malformed body, which Fastify does).
    type SoakRequest = { method: string; path: string; body?: string };
    const post = (path: string, payload: string): SoakRequest => ({ method: 'POST', path, body: payload });
    const valid: SoakRequest[] = [
      post(`/v1/predict/${TASK}`, body),
      post('/v1/recommend', JSON.stringify({ items: history, k: 10 })),
      post('/v1/embed', JSON.stringify({ items: history.slice(0, 5) })),
      post('/v1/embed', JSON.stringify({ items: history, task: TASK })),
      { method: 'GET', path: '/v1/tasks' },
      { method: 'GET', path: '/healthz' },
    ];
    const invalid: SoakRequest[] = [
      post(`/v1/predict/${TASK}`, JSON.stringify({ items: ['no-such-item'] })),
      post('/v1/recommend', '{"items": ['),
      post('/v1/predict/no-such-task', body),
      post('/v1/recommend', JSON.stringify({ items: history, k: 1e9 })),
    ];
    const mix = [valid[0]!, invalid[0]!, valid[1]!, invalid[1]!, valid[2]!, invalid[2]!, valid[3]!, invalid[3]!, valid[4]!, valid[5]!];
    const rssBefore = await rssMB(batched.url);
    const counts = { valid: {} as Record<string, number>, invalid: {} as Record<string, number> };
    let failures = 0;
    let next = 0;
    // RSS after each fifth of the soak: flat memory means these stop growing once warm.
    const rssSamplesMB: number[] = [];
    let sampling: Promise<void> = Promise.resolve();
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let i = next++; i < o.soakRequests; i = next++) {
        if (i > 0 && i % Math.ceil(o.soakRequests / 5) === 0) sampling = sampling.then(async () => void rssSamplesMB.push(await rssMB(batched.url)));
        const r = mix[i % mix.length]!;
        const kind = valid.includes(r) ? 'valid' : 'invalid';
        try {
          const res = await fetch(batched.url + r.path, { method: r.method, ...(r.body !== undefined ? { body: r.body, headers: JSON_HEADERS } : {}) });
          await res.arrayBuffer();
          counts[kind][res.status] = (counts[kind][res.status] ?? 0) + 1;
        } catch {
          failures++;
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    await sampling;
    const rssAfter = await rssMB(batched.url);
    const count5xx = (c: Record<string, number>) => Object.entries(c).filter(([code]) => Number(code) >= 500).reduce((n, [, k]) => n + k, 0);
    emit({
      bench: 'serve', scenario: 'soak', requests: o.soakRequests, seconds: round(seconds, 1), validStatus: counts.valid,
      invalidStatus: counts.invalid, valid5xx: count5xx(counts.valid), invalid5xx: count5xx(counts.invalid),
      connectionFailures: failures, serverAlive: batched.process.exitCode === null, rssBeforeMB: rssBefore, rssSamplesMB, rssAfterMB: rssAfter,
    });
  } finally {
    for (const s of servers) await stopServer(s);
    rmSync(dir, { recursive: true, force: true });
  }
}
