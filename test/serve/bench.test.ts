import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runServeBench } from '../../bench/serve.js';

describe('graftrec bench serve (smoke, tiny settings)', () => {
  for (const backbone of ['nextitnet', 'sasrec'] as const) it(`reports latency, the batching comparison and a soak without 5xx (${backbone} base)`, async () => {
    const records: Record<string, unknown>[] = [];
    await runServeBench({ items: 500, historyLength: 20, seconds: 1, connections: 8, soakRequests: 200, threads: 1, backbone }, (r) => records.push(r));
    const [low, throughput, soak] = records as Record<string, any>[];
    assert.equal(low!.scenario, 'low-load');
    assert.equal(low!.backbone, backbone);
    assert.ok(low!.requests > 10 && low!.p50Ms > 0 && low!.p99Ms >= low!.p50Ms, JSON.stringify(low));
    assert.equal(throughput!.scenario, 'throughput');
    assert.ok(throughput!.batchedRequestsPerSec > 0 && throughput!.unbatchedRequestsPerSec > 0 && throughput!.non2xx === 0, JSON.stringify(throughput));
    assert.equal(soak!.scenario, 'soak');
    assert.deepEqual(soak!.validStatus, { 200: 120 });
    assert.deepEqual(soak!.invalidStatus, { 400: 60, 404: 20 });
    assert.equal(soak!.serverAlive, true);
    assert.equal(soak!.rssSamplesMB.length, 4);
  });
});
