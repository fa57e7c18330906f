/**
 * The HTTP API (Fastify): one base model, many task patches.
 *
 *   POST /v1/recommend        {user | items, k?, task?, excludeSeen?, itemTexts?} → top-k items with scores
 *   POST /v1/predict/:task    {user | items}                         → label + class probabilities
 *   POST /v1/embed            {user | items, task?, itemTexts?}      → user vector
 *   GET  /v1/tasks                                                   → base model + loaded tasks with their cards
 *   POST /v1/tasks/reload                                            → rescan the patch directory (admin)
 *   GET  /healthz                                                    → liveness, task count, memory
 *   GET  /docs/json                                                  → OpenAPI document
 *
 * Requests for the same network are micro-batched (see batcher.ts). Bad input is a 4xx with a JSON reason; an
 * unexpected failure is a logged 500 for that request only — the process never exits on a request.
 *
 * Admin routes (they act on the server's files) are off unless the server has an admin token, and then answer only
 * requests that carry it as `Authorization: Bearer <token>`. The other routes are open to every client that can
 * reach the port: serve on a non-loopback address only behind something that authenticates.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import { Dataset } from '../data/dataset.js';
import { LoadedModel } from '../train/checkpoint.js';
import { AnyTask } from '../transfer/patchfile.js';
import { TaskAnswer } from '../transfer/predict.js';
import { BatchStats, MicroBatcher, emptyBatchStats } from './batcher.js';
import { HistoryRequest, HistoryResolver } from './histories.js';
import { HttpError } from './http-error.js';
import { RecommendInput, ScoredItem, answerTask, embedUsers, recommendNextItems } from './inference.js';
import { ItemText, requestCatalogue } from './item-texts.js';
import { TaskRegistry } from './registry.js';
import { embedSchema, errorBody, predictSchema, recommendSchema } from './schemas.js';

export interface ServerOptions {
  /** The base model, over its own items and any new ones registered by text at load (see train/catalogue.ts). */
  base: LoadedModel;
  /** Items 1..taskItems are the ones the base was trained with: a task's tensors know only these. */
  taskItems?: number;
  registry: TaskRegistry;
  /** Dataset to look `user` ids up in (optional). */
  dataset: Dataset | null;
  datasetName: string;
  ignoreUnknownItems: boolean;
  /** Micro-batching window in ms (0 = no batching) and the largest batch. */
  batchWaitMs: number;
  maxBatch: number;
  bodyLimit: number;
  logger: boolean | { level: string; stream?: NodeJS.WritableStream } | FastifyBaseLogger;
  /** Bearer token the admin routes require; null turns them off. */
  adminToken: string | null;
}

interface RecommendBody extends HistoryRequest {
  k: number;
  task?: string;
  excludeSeen: boolean;
  itemTexts?: ItemText[];
}

/** One batcher per network and operation; a reloaded task gets fresh ones, the old ones drain. */
class Batchers {
  readonly next: MicroBatcher<RecommendInput, ScoredItem[]>;
  readonly baseEmbed: MicroBatcher<Int32Array, number[]>;
  private readonly perTask = new WeakMap<AnyTask, { answer: MicroBatcher<{ history: Int32Array; k: number }, TaskAnswer>; embed: MicroBatcher<Int32Array, number[]> }>();
  /** Over every batcher: how many forward passes ran, for how many requests, and the largest batch. */
  readonly stats: BatchStats;

  constructor(base: LoadedModel, private readonly options: { waitMs: number; maxBatch: number; stats: BatchStats }) {
    this.stats = options.stats;
    this.next = new MicroBatcher((inputs) => recommendNextItems(base, inputs), options);
    this.baseEmbed = new MicroBatcher((histories) => embedUsers(base.model, histories), options);
  }

  forTask(task: AnyTask) {
    let b = this.perTask.get(task);
    if (!b) {
      b = {
        answer: new MicroBatcher((inputs) => answerTask(task, inputs), this.options),
        embed: new MicroBatcher((histories) => embedUsers(task.model, histories, task.head), this.options),
      };
      this.perTask.set(task, b);
    }
    return b;
  }
}

function cardSummary(task: AnyTask): Record<string, unknown> {
  const { card } = task;
  if (card.type !== 'classify') {
    const { targetItems, ...rest } = card;
    return { ...rest, targetItemCount: targetItems.length };
  }
  return { ...card };
}

function withIgnored<T extends object>(body: T, ignored: string[]): T & { ignoredItems?: string[] } {
  return ignored.length > 0 ? { ...body, ignoredItems: ignored } : body;
}

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: o.logger as boolean,
    bodyLimit: o.bodyLimit,
    // Unknown fields and wrongly typed values are errors, not silently dropped or converted.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'graftrec', description: 'One pretrained user model, many task patches', version: '1' },
    },
  });
  const resolver = new HistoryResolver(o.base, o.dataset, o.datasetName, o.ignoreUnknownItems);
  const taskItems = o.taskItems ?? o.base.items.length;
  const batchers = new Batchers(o.base, { waitMs: o.batchWaitMs, maxBatch: o.maxBatch, stats: emptyBatchStats() });
  /** A loaded task by name; `answers`: what the route gives (labels, or items: recommend and next-item tasks). */
  const task = (name: string, answers?: 'labels' | 'items'): AnyTask => {
    const t = o.registry.get(name);
    if (!t) throw new HttpError(404, `unknown task "${name}" (loaded: ${o.registry.list().map((x) => x.card.task).join(', ') || 'none'})`);
    if (answers && (t.card.type === 'classify') !== (answers === 'labels')) {
      throw new HttpError(400, answers === 'labels'
        ? `task "${name}" is a ${t.card.type} task: ask POST /v1/recommend with "task": "${name}"`
        : `task "${name}" is a classify task: ask POST /v1/predict/${name}`);
    }
    return t;
  };
  /** A task's history: a next-item task's in its own catalogue, any other's in the base's items (see histories.ts). */
  const taskHistory = (t: AnyTask, b: HistoryRequest) => (t.head === null
    ? resolver.resolveInCatalogue(b, t.card.task, t.itemIndex)
    : resolver.resolve(b, t.card.type === 'recommend' ? t.card.sourceDomain : null, taskItems));

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err.validation) return reply.status(400).send({ error: 'Bad Request', message: validationMessage(err) });
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      return reply.status(500).send({ error: 'Internal Server Error', message: 'the request failed inside the server; see its log' });
    }
    return reply.status(status).send({ error: httpReason(status), message: err.message });
  });
  app.setNotFoundHandler((request, reply) => {
    // A known path asked with another method is a 405 naming the allowed ones, not a 404.
    const path = request.url.split('?')[0]!;
    const allowed = ['GET', 'POST'].filter((method) => method !== request.method && app.hasRoute({ method, url: path }));
    if (allowed.length > 0) {
      return reply.status(405).header('allow', allowed.join(', '))
        .send({ error: 'Method Not Allowed', message: `${request.method} ${path}: use ${allowed.join(' or ')}` });
    }
    return reply.status(404).send({ error: 'Not Found', message: `no route ${request.method} ${request.url}` });
  });

  // Tasks keep the vocabulary they were trained with, so new items by text are for the base's routes only.
  const noTextsWithTask = (b: { task?: string; itemTexts?: ItemText[] }) => {
    if (b.task !== undefined && b.itemTexts !== undefined) {
      throw new HttpError(400, '"itemTexts" is for the base model only: a task knows the items it was trained with');
    }
  };

  app.post<{ Body: RecommendBody }>('/v1/recommend', { schema: recommendSchema }, async (request) => {
    const b = request.body;
    noTextsWithTask(b);
    if (b.itemTexts !== undefined) {
      // A network of its own for this request: it cannot share a forward pass with the others, so no batcher.
      const extended = requestCatalogue(o.base, b.itemTexts);
      const { history, ignoredItems } = resolver.resolve(b, null, undefined, extended.added);
      const [recommendations] = recommendNextItems(extended.base, [{ history, k: b.k, excludeSeen: b.excludeSeen }]);
      return withIgnored({ task: null, recommendations: recommendations! }, ignoredItems);
    }
    if (b.task === undefined) {
      const { history, ignoredItems } = resolver.resolve(b, null);
      const recommendations = await batchers.next.submit({ history, k: b.k, excludeSeen: b.excludeSeen });
      return withIgnored({ task: null, recommendations }, ignoredItems);
    }
    const t = task(b.task, 'items');
    const { history, ignoredItems } = taskHistory(t, b);
    const answer = await batchers.forTask(t).answer.submit({ history, k: b.k });
    return withIgnored({ task: b.task, recommendations: 'recommendations' in answer ? answer.recommendations : [] }, ignoredItems);
  });

  app.post<{ Params: { task: string }; Body: HistoryRequest }>('/v1/predict/:task', { schema: predictSchema }, async (request) => {
    const t = task(request.params.task, 'labels');
    const { history, ignoredItems } = resolver.resolve(request.body, null, taskItems);
    const answer = await batchers.forTask(t).answer.submit({ history, k: 1 });
    if (!('label' in answer)) throw new Error('internal: a classify task answered without a label');
    return withIgnored({ task: t.card.task, ...answer }, ignoredItems);
  });

  app.post<{ Body: HistoryRequest & { task?: string; itemTexts?: ItemText[] } }>('/v1/embed', { schema: embedSchema }, async (request) => {
    const b = request.body;
    noTextsWithTask(b);
    if (b.itemTexts !== undefined) {
      const extended = requestCatalogue(o.base, b.itemTexts);
      const { history, ignoredItems } = resolver.resolve(b, null, undefined, extended.added);
      const [vector] = embedUsers(extended.base.model, [history]);
      return withIgnored({ task: null, dim: vector!.length, vector: vector! }, ignoredItems);
    }
    const t = b.task === undefined ? null : task(b.task);
    const { history, ignoredItems } = t ? taskHistory(t, b) : resolver.resolve(b, null);
    const vector = await (t ? batchers.forTask(t).embed : batchers.baseEmbed).submit(history);
    return withIgnored({ task: b.task ?? null, dim: vector.length, vector }, ignoredItems);
  });

  app.get('/v1/tasks', { schema: { summary: 'The base model and the loaded tasks with their cards' } }, async () => ({
    base: {
      fingerprint: o.registry.baseFingerprint, items: o.base.items.length, dim: o.base.config.model.dim,
      blocks: o.base.config.model.blocks, maxLen: o.base.config.model.maxLen, objective: o.base.config.model.objective,
    },
    tasks: o.registry.list().map((t) => ({ task: t.card.task, type: t.card.type, dir: t.dir, card: cardSummary(t) })),
  }));

  const authorised = adminCheck(o.adminToken);
  app.post('/v1/tasks/reload', { schema: { summary: 'Rescan the patch directory: add new patches, drop removed ones, reload changed ones (admin: needs the server\'s admin token as a bearer token)' } }, async (request) => {
    authorised(request.headers.authorization);
    const report = await o.registry.reload();
    request.log.info({ report }, 'tasks reloaded');
    return report;
  });

  app.get('/healthz', { schema: { summary: 'Liveness', response: { 500: errorBody } } }, async () => ({
    status: 'ok', tasks: o.registry.list().length, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    uptimeSeconds: Math.round(process.uptime()), batching: { ...batchers.stats },
  }));

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/**
 * The admin check: throws 403 when admin routes are off, 401 without the right bearer token. Tokens are compared
 * as SHA-256 digests in constant time, so neither their content nor their length leaks through timing.
 */
function adminCheck(token: string | null): (authorization: string | undefined) => void {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = token === null ? null : digest(token);
  return (authorization) => {
    if (expected === null) {
      throw new HttpError(403, 'admin routes are off: start the server with --admin-token (or GRAFTREC_ADMIN_TOKEN) to use them');
    }
    const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new HttpError(401, 'this admin route needs the server\'s admin token: Authorization: Bearer <token>');
    }
  };
}

/** The schema violation in words, naming an unknown field (Ajv's own message does not). */
function validationMessage(err: FastifyError): string {
  const unknown = err.validation?.find((v) => v.keyword === 'additionalProperties');
  const field = (unknown?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  return field !== undefined ? `${err.validationContext ?? 'body'} has an unknown field "${field}"` : err.message;
}

function httpReason(status: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity' } as Record<number, string>)[status] ?? 'Error';
}
