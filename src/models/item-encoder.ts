/**
 * Where a backbone's item vectors come from, for its inputs and (tied) for its softmax table:
 *
 *   id        items(id)                                       a row per item (the classic table)
 *   text      LN(W · mean_{t ∈ tokens(item)} tokens(t) + b)   hashed text tokens; no per-item parameter
 *   id+text   items(id) + the text vector
 *   features  LN(Σ_k gate_k(x) · (x·W_k + c_k)) of the item's precomputed vector x (feature-encoder.ts)
 *
 * A text vector depends only on the item's tokens, so an item never seen in training gets a vector, and two
 * catalogues tokenised with the same hash share the token table. The mask token (masked objective) is a reserved
 * token row of its own, after the hash buckets.
 *
 * With text or features, every item's vector is computed in one batch (rows 0..inputRows-1) and inputs and the softmax table
 * are gathered from it, so the table the loss reads is differentiable back into the token table and projection.
 * That batch is computed once per training step (per scratch scope) and, without a graph (evaluation, serving),
 * kept until a parameter changes.
 */
import { ModelConfig, usesText } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import {
  Parameter, Rng, Shape, Tensor, add, currentScratchScope, embedding, embeddingBag, isGradEnabled, leadingRows, noGrad, parameterWriteCount,
} from '../tensor/index.js';
import { inputRows } from './input-rows.js';
import { FeatureItemEncoder, ItemFeatures } from './feature-encoder.js';

/** Token ids per item, CSR over item indices 0..numItems (row 0, padding, may be empty). */
export interface ItemTokens {
  offsets: Int32Array;
  tokens: Int32Array;
}

/** What an item encoder other than `id` reads about the items: their text tokens, or their vectors. */
export type ItemSideInfo = ItemTokens | ItemFeatures;

export function isItemFeatures(side: ItemSideInfo): side is ItemFeatures {
  return 'vectors' in side;
}

/**
 * Where transfer learning may graft into the text encoder (transfer/ builds these; the encoder only calls them),
 * so a new platform's items can be read differently while the token table stays frozen (AdapterRec's adapters in
 * the item encoder):
 *   tokenBag    a vector added to each item's token bag, from the same token ids and weights (a learned
 *               correction of the frozen token vectors)
 *   projected   what continues in place of the projected bag, before the LayerNorm
 */
export interface TextPatchHooks {
  tokenBag?(ids: Int32Array, weights: Float32Array, offsets: Int32Array): Tensor;
  projected?(x: Tensor): Tensor;
}

/** The bag of hashed tokens of each item, projected to the model dimension. */
export class TextItemEncoder extends Module {
  readonly tokens: Embedding;
  readonly projection: Linear;
  readonly norm: LayerNorm;
  private readonly items: ItemTokens;
  /** The mask row's reserved token (masked objective), or null. */
  private readonly maskToken: number | null;
  /**
   * The bag of every input row (token ids, mean weights, row offsets), built on first use: an encoder that only
   * encodes its rows after another's (encodeFrom) never needs the whole catalogue's.
   */
  private bag: TokenBag | null = null;
  /** Transfer patches of the text encoder (set by transfer/; see TextPatchHooks). */
  patch: TextPatchHooks | null = null;

  constructor(name: string, config: ModelConfig, items: ItemTokens, rng: Rng) {
    super(name);
    const buckets = config.textBuckets!;
    if (items.offsets.length !== config.numItems + 2) {
      throw new ModelError(`item text: token rows for ${items.offsets.length - 1} items, the model has ${config.numItems} (+ padding)`);
    }
    checkTokens(items.tokens, buckets);
    this.tokens = this.child(new Embedding(this.childName('tokens'), buckets + 1, config.dim, rng));
    this.projection = this.child(new Linear(this.childName('projection'), config.dim, config.dim, rng));
    // The LayerNorm's gain sets the scale the text vectors start at (README, "Where a text vector starts": the unit
    // start ends higher on validation; the id rows' scale gets close in about half the epochs).
    this.norm = this.child(new LayerNorm(this.childName('norm'), config.dim, config.layerNormEps, config.textInitScale));
    this.items = items;
    this.maskToken = inputRows(config) > config.numItems + 1 ? buckets : null;
  }

  /**
   * A copy sharing every weight (and patch) that reads `items` — this one's followed by new ones, whose tokens
   * `addedTokens` are checked here (this one's were at construction) — instead.
   */
  withItems(items: ItemTokens, addedTokens: Int32Array): TextItemEncoder {
    // The token table's last row is the mask token's, after the hash buckets.
    checkTokens(addedTokens, this.tokens.weight.shape[0]! - 1);
    return Object.assign(this.copySharing(), { items, bag: null });
  }

  /** Vectors of every input row [rows, dim]. */
  encodeAll(): Tensor {
    return this.encodeBag(this.bag ??= tokenBag(this.items, this.maskToken));
  }

  /**
   * Vectors of the input rows from `first` on (the mask row last, as in encodeAll) [rows - first, dim]. Every
   * step — bag, patches, projection, LayerNorm — reads one row at a time, so these are encodeAll()'s last rows.
   */
  encodeFrom(first: number): Tensor {
    return this.encodeBag(tokenBag(this.items, this.maskToken, first));
  }

  private encodeBag({ ids, weights, offsets }: TokenBag): Tensor {
    const p = this.patch;
    let bag = embeddingBag(this.tokens.weight, ids, weights, offsets);
    if (p?.tokenBag) bag = add(bag, p.tokenBag(ids, weights, offsets));
    const projected = this.projection.forward(bag);
    return this.norm.forward(p?.projected ? p.projected(projected) : projected);
  }
}

function checkTokens(tokens: Int32Array, buckets: number): void {
  for (const t of tokens) if (t < 0 || t >= buckets) throw new ModelError(`item text: token id ${t} outside the model's ${buckets} buckets`);
}

/** The token rows of `own` followed by those of `added` (a CSR of its own, from offset 0). */
function appendItemTokens(own: ItemTokens, added: ItemTokens): ItemTokens {
  const ownEnd = own.offsets[own.offsets.length - 1]!;
  const offsets = new Int32Array(own.offsets.length + added.offsets.length - 1);
  offsets.set(own.offsets);
  for (let k = 1; k < added.offsets.length; k++) offsets[own.offsets.length - 1 + k] = ownEnd + added.offsets[k]!;
  const tokens = new Int32Array(ownEnd + added.tokens.length);
  tokens.set(own.tokens.subarray(0, ownEnd));
  tokens.set(added.tokens, ownEnd);
  return { offsets, tokens };
}

/** Mean weights (1/n per token of an n-token item) and, for a masked model, the mask row's reserved token. */
interface TokenBag {
  ids: Int32Array;
  weights: Float32Array;
  offsets: Int32Array;
}

/** The bag of the input rows from item row `first` on (the mask row included). */
function tokenBag(items: ItemTokens, maskToken: number | null, first = 0): TokenBag {
  const start = items.offsets[first]!;
  const itemRows = items.offsets.length - 1 - first;
  const rows = itemRows + (maskToken === null ? 0 : 1);
  const total = items.tokens.length - start + (maskToken === null ? 0 : 1);
  const ids = new Int32Array(total);
  ids.set(items.tokens.subarray(start));
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r <= itemRows; r++) offsets[r] = items.offsets[first + r]! - start;
  if (maskToken !== null) {
    ids[total - 1] = maskToken;
    offsets[rows] = total;
  }
  const weights = new Float32Array(total);
  for (let r = 0; r < rows; r++) {
    const n = offsets[r + 1]! - offsets[r]!;
    weights.fill(1 / n, offsets[r]!, offsets[r + 1]!);
  }
  return { ids, weights, offsets };
}

interface EncodedItems {
  /** The training step's scratch scope, or null: computed without a graph. */
  scope: object | null;
  /** parameterWriteCount() when computed. */
  writes: number;
  all: Tensor;
  table: Tensor | null;
}

/**
 * Per encoder object (not a field: a copySharing copy with replaced parameters must not see the original's).
 */
const caches = new WeakMap<ItemEncoder, EncodedItems>();

function iota(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

export class ItemEncoder extends Module {
  readonly kind: ModelConfig['itemEncoder'];
  /** The id table, named `items` as before item encoders existed, so id models keep their checkpoint keys. */
  readonly ids: Embedding | null;
  readonly text: TextItemEncoder | null;
  readonly features: FeatureItemEncoder | null;
  /** The items' text tokens the text encoder reads (null without one); saved with the model. */
  readonly itemTokens: ItemTokens | null;
  /** The items' vectors the features encoder reads (null without one); saved with the model. */
  readonly itemFeatures: ItemFeatures | null;
  private readonly numItems: number;
  private readonly rows: number;
  /**
   * The encoder whose items are this one's first items (a catalogue extended by new items' text, sharing its
   * weights): without a graph, their vectors are taken from its cache and only the rows after them encoded.
   */
  private ownItemsFrom: ItemEncoder | null = null;

  constructor(config: ModelConfig, rng: Rng, side: ItemSideInfo | null) {
    super('');
    this.kind = config.itemEncoder;
    this.numItems = config.numItems;
    this.rows = inputRows(config);
    const text = usesText(this.kind);
    const tokens = side && !isItemFeatures(side) ? side : null;
    const features = side && isItemFeatures(side) ? side : null;
    if (text && !tokens) throw new ModelError(`the ${this.kind} item encoder needs item text; ingest the data with --item-text`);
    if (this.kind === 'features' && !features) throw new ModelError('the features item encoder needs item vectors; ingest the data with --item-features');
    this.itemTokens = text ? tokens : null;
    this.itemFeatures = this.kind === 'features' ? features : null;
    this.ids = this.kind === 'id' || this.kind === 'id+text' ? this.child(new Embedding('items', this.rows, config.dim, rng)) : null;
    this.text = text ? this.child(new TextItemEncoder('item_text', config, tokens!, rng)) : null;
    this.features = this.kind === 'features' ? this.child(new FeatureItemEncoder('item_features', config, features!, rng)) : null;
  }

  /**
   * This text encoder over its items followed by `added` ones (token rows of the new items only): a copy that
   * shares every weight and patch, and reads its first items' vectors from this encoder (ownItemsFrom). Its
   * item-vector cache is its own object's, so it is dropped with the copy.
   */
  withAddedItems(added: ItemTokens): ItemEncoder {
    if (this.kind !== 'text') throw new ModelError(`a ${this.kind} item encoder cannot take new items by their text; only a text one can`);
    const itemTokens = appendItemTokens(this.itemTokens!, added);
    const text = this.text!.withItems(itemTokens, added.tokens);
    const count = added.offsets.length - 1;
    // Fields of the copy only: the original keeps its catalogue.
    return Object.assign(this.copySharing(new Map(), new Map([[this.text!, text]])), {
      numItems: this.numItems + count, rows: this.rows + count, itemTokens, ownItemsFrom: this,
    });
  }

  /** Grafts (or with null removes) the text encoder's patches; item vectors computed before are stale then. */
  setTextPatch(patch: TextPatchHooks | null): void {
    if (!this.text) throw new ModelError('only a text item encoder takes a patch');
    this.text.patch = patch;
    caches.delete(this);
  }

  /**
   * What a patched (peterrec) network trains in the item encoder besides its patches: the text encoder's
   * LayerNorm after them, or the features encoder's whole adaptor (UniSRec adapts to a new platform by its MoE
   * adaptor alone).
   */
  patchedParameters(): Parameter[] {
    if (this.features) return this.features.parameters();
    return this.text ? this.text.norm.parameters() : [];
  }

  /** Item vectors for ids of shape `shape`: [...shape, dim]. */
  forward(ids: Int32Array, shape: Shape): Tensor {
    if (this.kind === 'id') return this.ids!.forward(ids, shape);
    return embedding(this.encoded().all, ids, shape);
  }

  /** The softmax table over items [numItems + 1, dim] (row 0: padding; no mask-token row), tied to the inputs. */
  table(): Tensor {
    const rows = this.numItems + 1;
    if (this.kind === 'id') return this.rows === rows ? this.ids!.weight : leadingRows(this.ids!.weight, rows);
    const encoded = this.encoded();
    encoded.table ??= encoded.all.shape[0] === rows ? encoded.all : leadingRows(encoded.all, rows);
    return encoded.table;
  }

  /** Every input row's vector, reused within a training step or, without a graph, until a parameter changes. */
  private encoded(): EncodedItems {
    const scope = currentScratchScope();
    const writes = parameterWriteCount();
    const grad = isGradEnabled();
    const c = caches.get(this);
    // A graph that a backward pass released cannot be differentiated again: a second loss in the step recomputes.
    const fresh = c && c.writes === writes && !c.all.graphReleased && !c.table?.graphReleased;
    if (fresh && (grad ? scope !== null && c.scope === scope : c.scope === null)) return c;
    if (grad && scope === null) {
      caches.delete(this);
      return { scope: null, writes, all: this.encodeAll(), table: null };
    }
    const all = grad ? this.encodeAll() : noGrad(() => this.encodeWithoutGraph());
    const entry: EncodedItems = { scope: grad ? scope : null, writes, all, table: null };
    caches.set(this, entry);
    return entry;
  }

  /**
   * encodeAll() in memory of its own (the result outlives any scratch scope). With a source of its first items
   * that still computes them alike, those rows are copied from its cache and only the rows after them — new
   * items, then the mask row — are encoded: a request's few new items cost what they add, not the catalogue.
   */
  private encodeWithoutGraph(): Tensor {
    const source = this.ownItemsFrom;
    if (source === null || !sameTextEncoding(this.text!, source.text!)) {
      const t = this.encodeAll();
      return new Tensor(Float32Array.from(t.data), t.shape);
    }
    const own = source.table();
    const added = this.text!.encodeFrom(own.shape[0]!);
    const data = new Float32Array(own.size + added.size);
    data.set(own.data);
    data.set(added.data, own.size);
    return new Tensor(data, [this.rows, added.shape[1]!]);
  }

  private encodeAll(): Tensor {
    if (this.features) return this.features.encodeAll();
    const text = this.text!.encodeAll();
    // Gathered rather than added as is: the gather records which rows of the row-sparse id table get a gradient.
    return this.ids ? add(this.ids.forward(iota(this.rows), [this.rows]), text) : text;
  }
}

/**
 * Whether two text encoders give an item the same vector: the same weight tensors (shared, so a write to one is
 * a write to both) and the same patches. A task's copy with replaced weights or grafted patches is not alike.
 */
function sameTextEncoding(a: TextItemEncoder, b: TextItemEncoder): boolean {
  const bs = b.parameters();
  return a.patch === b.patch && a.parameters().every((p, i) => p.data === bs[i]?.data);
}
