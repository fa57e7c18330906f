/**
 * JSON schemas of the HTTP API: Fastify validates every request body against them (a violation is a 400 with
 * the reason) and @fastify/swagger publishes them as the OpenAPI document at /docs/json.
 */
import { MAX_ITEM_TEXTS, MAX_ITEM_TEXT_LENGTH } from './item-texts.js';

export const MAX_K = 1000;
export const MAX_ITEMS = 10_000;

const history = {
  user: { type: 'string', minLength: 1, maxLength: 512, description: 'raw user id of a user in the server\'s dataset' },
  items: {
    type: 'array', minItems: 1, maxItems: MAX_ITEMS, items: { type: 'string', minLength: 1, maxLength: 512 },
    description: 'raw item ids, oldest first (only the last max-len are used)',
  },
} as const;

/** New items by their text, for this request only (a text base): see item-texts.ts. */
const itemTexts = {
  type: 'array', minItems: 1, maxItems: MAX_ITEM_TEXTS,
  items: {
    type: 'object', additionalProperties: false, required: ['id', 'text'],
    properties: {
      id: { type: 'string', minLength: 1, maxLength: 512, description: 'the new item\'s id, usable in "items" and returned in recommendations' },
      text: { type: 'string', minLength: 1, maxLength: MAX_ITEM_TEXT_LENGTH, description: 'its text (title, categories …), tokenised like the model\'s items' },
    },
  },
  description: `base model with the text item encoder only (400 otherwise; not with "task"): items it does not have, scored from their text for this request — they may appear in "items" and be recommended. An id the model has keeps its trained vector. At most ${MAX_ITEM_TEXTS}.`,
} as const;

const scoredItems = {
  type: 'array',
  items: { type: 'object', properties: { item: { type: 'string' }, score: { type: 'number' } }, required: ['item', 'score'] },
} as const;

const ignoredItems = { type: 'array', items: { type: 'string' }, description: 'unknown items dropped (server started with --ignore-unknown-items)' } as const;

export const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

const errors = { 400: errorBody, 404: errorBody, 422: errorBody } as const;

export const recommendSchema = {
  summary: 'Top-k items for a user or a sequence: next items of the base model, or target-domain items of a cross-domain task',
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...history,
      k: { type: 'integer', minimum: 1, maximum: MAX_K, default: 10 },
      task: { type: 'string', minLength: 1, description: 'a recommend task (cross-domain patch) or a next-item task (another platform\'s catalogue: "items" are that platform\'s ids); default: the base model' },
      excludeSeen: { type: 'boolean', default: true, description: 'base model only: leave out items already in the sequence' },
      itemTexts,
    },
  },
  response: {
    200: { type: 'object', properties: { task: { type: ['string', 'null'] }, recommendations: scoredItems, ignoredItems }, required: ['recommendations'] },
    ...errors,
  },
} as const;

export const predictSchema = {
  summary: 'A classification task\'s label and class probabilities for a user or a sequence',
  params: { type: 'object', properties: { task: { type: 'string' } }, required: ['task'] },
  body: { type: 'object', additionalProperties: false, properties: { ...history } },
  response: {
    200: {
      type: 'object',
      properties: {
        task: { type: 'string' }, label: { type: 'string' },
        probabilities: { type: 'object', additionalProperties: { type: 'number' } }, ignoredItems,
      },
      required: ['task', 'label', 'probabilities'],
    },
    ...errors,
  },
} as const;

export const embedSchema = {
  summary: 'The user vector (hidden state at the last position) of the base model, or of a task\'s patched network',
  body: {
    type: 'object',
    additionalProperties: false,
    properties: { ...history, task: { type: 'string', minLength: 1 }, itemTexts },
  },
  response: {
    200: {
      type: 'object',
      properties: { task: { type: ['string', 'null'] }, dim: { type: 'integer' }, vector: { type: 'array', items: { type: 'number' } }, ignoredItems },
      required: ['dim', 'vector'],
    },
    ...errors,
  },
} as const;
