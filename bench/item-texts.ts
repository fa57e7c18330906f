/**
 * Per-request new items by text: a random-weight text base of the default shape (default --text-buckets, items
 * with random token rows) served in process (Fastify's inject, so no socket), POST /v1/recommend with a history,
 * one request after another, alternating: without itemTexts, and with `texts` new items whose texts differ in
 * every request (nothing can be reused between requests). Latency p50 / p99 of each, and the heap's growth over
 * the timed requests (run node with --expose-gc; flat: nothing is kept). Weights are random because only the amount of work matters for speed.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backbone, MODEL_DEFAULTS, ModelConfigSchema, TRAIN_DEFAULTS } from '../src/config/schema.js';
import { DEFAULT_TEXT_BUCKETS, tokenizerSpec } from '../src/data/text/tokenize.js';
import { createEncoder } from '../src/models/encoders.js';
import { createServer } from '../src/serve/start.js';
import { Rng } from '../src/tensor/index.js';
import { MODEL_FORMAT, vocabularyHash, writeModelFiles } from '../src/train/checkpoint.js';
import { Emit, percentile, round } from './timing.js';

export interface ItemTextsBenchOptions {
  items: number;
  backbone?: Backbone;
  textBuckets?: number;
  /** New items per itemTexts request. */
  texts: number;
  historyLength: number;
  requests: number;
}

/** Token ids per item: a product title's distinct character trigrams are a few dozen. */
const TOKENS_PER_ITEM = 40;

async function writeTextBase(dir: string, o: ItemTextsBenchOptions, backbone: Backbone, buckets: number): Promise<string[]> {
  const config = ModelConfigSchema.parse({ backbone, maxLen: MODEL_DEFAULTS.maxLen, numItems: o.items, itemEncoder: 'text', textBuckets: buckets });
  const rng = new Rng(1);
  const offsets = Int32Array.from({ length: o.items + 2 }, (_, i) => Math.max(0, i - 1) * TOKENS_PER_ITEM);
  const tokens = Int32Array.from({ length: o.items * TOKENS_PER_ITEM }, () => rng.int(0, buckets));
  const model = createEncoder(config, rng, { offsets, tokens });
  const itemIds = Array.from({ length: o.items }, (_, i) => `i${i + 1}`);
  await writeModelFiles(dir, {
    format: MODEL_FORMAT, version: 1, model: config, train: TRAIN_DEFAULTS, vocabularyHash: vocabularyHash(itemIds),
    dataset: 'random (benchmark)', itemText: { tokenizer: tokenizerSpec(buckets) },
  }, model, itemIds);
  return itemIds;
}

const WORDS = ['mini', 'camera', 'tripod', 'garden', 'hose', 'red', 'steel', 'kettle', 'wool', 'scarf', 'vintage', 'lamp', 'travel', 'mug', 'set', 'pro'];


export async function runItemTextsBench(o: ItemTextsBenchOptions, emit: Emit): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'graftrec-bench-item-texts-'));
  try {
    const backbone = o.backbone ?? MODEL_DEFAULTS.backbone;
    const buckets = o.textBuckets ?? DEFAULT_TEXT_BUCKETS;
    const modelDir = join(dir, 'model');
    mkdirSync(modelDir);
    const itemIds = await writeTextBase(modelDir, o, backbone, buckets);
    const server = await createServer({
      model: modelDir, itemText: null, patches: null, data: null, watch: false, ignoreUnknownItems: false,
      batchWaitMs: 0, maxBatch: 8, bodyLimit: 1 << 20, logger: false, adminToken: null,
    });
    try {
      const rng = new Rng(7);
      const items = Array.from({ length: o.historyLength }, () => itemIds[rng.int(0, itemIds.length)]!);
      // Distinct texts in every request: a word and the request's number, so no text repeats.
      const itemTexts = (request: number) => Array.from({ length: o.texts }, (_, k) => ({
        id: `new-${request}-${k}`, text: `${WORDS[rng.int(0, WORDS.length)]} ${WORDS[rng.int(0, WORDS.length)]} model${request * o.texts + k}`,
      }));
      const time = async (payload: object) => {
        const t0 = performance.now();
        const res = await server.app.inject({ method: 'POST', url: '/v1/recommend', payload });
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`);
        return performance.now() - t0;
      };
      const plain = { items, k: 10 };
      // Warm-up: the base's item vectors are computed once, by the first request.
      for (let r = 0; r < 10; r++) {
        await time(plain);
        await time({ ...plain, itemTexts: itemTexts(-1 - r) });
      }
      global.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      // Alternating, so that a busy machine slows both kinds alike.
      const times = { plain: [] as number[], itemTexts: [] as number[] };
      for (let r = 0; r < o.requests; r++) {
        times.plain.push(await time(plain));
        times.itemTexts.push(await time({ ...plain, itemTexts: itemTexts(r) }));
      }
      global.gc?.();
      const heapGrowthMB = global.gc ? round((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20, 2) : undefined;
      for (const [scenario, t] of Object.entries(times)) {
        const sorted = t.sort((a, b) => a - b);
        emit({
          bench: 'item-texts', scenario, backbone, items: o.items, textBuckets: buckets, historyLength: o.historyLength,
          texts: scenario === 'plain' ? 0 : o.texts, requests: sorted.length, p50Ms: round(percentile(sorted, 50), 3),
          p99Ms: round(percentile(sorted, 99), 3), ...(scenario === 'plain' ? {} : { heapGrowthMB }),
        });
      }
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
