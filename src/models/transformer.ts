/**
 * The pieces SASRec and BERT4Rec share: a pre-LN transformer layer whose attention is causal (SASRec) or
 * bidirectional (BERT4Rec) and whose feed-forward network uses ReLU (SASRec) or GELU (BERT4Rec), and seeded
 * dropout that a resumed run redraws exactly (GRU4Rec uses it too).
 *
 *   h = h + Dropout(Wo · Attention(LN1(h)))              padding keys masked; causal or not
 *   h = h + Dropout(W2 · Dropout(act(W1 · LN2(h))))      point-wise feed-forward
 *
 * The two sublayer outputs (before their residual adds) are where transfer/ grafts patches.
 */
import { BatchShard, EncoderBlock } from './encoder.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { Rng, Tensor, add, attention, gelu, relu, seededDropout } from '../tensor/index.js';

/** Room for this many dropout calls in one training step (a few per layer and forward pass). */
const CALLS_PER_STEP = 2 ** 20;

/**
 * Draws each dropout call's mask from (seed, call number): reproducible for a seed and any thread count. The
 * trainer restarts the numbering at each step (step × CALLS_PER_STEP), so a resumed run continues the sequence.
 */
export class DropoutCalls {
  private calls = 0;
  private rows: BatchShard | null = null;
  constructor(private readonly seed: number, private readonly rate: number) {}

  /** `rows`: this process's rows of the step's batch (data-parallel); it then draws those rows of the batch's masks. */
  restartAt(step: number, rows?: BatchShard): void {
    this.calls = step * CALLS_PER_STEP;
    this.rows = rows ?? null;
  }

  apply(x: Tensor): Tensor {
    return seededDropout(x, this.rate, { seed: this.seed, step: this.calls++, offset: this.offsetOf(x) });
  }

  /** Where x starts in the whole batch's tensor: every dropout input here has the batch's rows leading. */
  private offsetOf(x: Tensor): number {
    if (this.rows === null || this.rows.start === 0) return 0;
    const perRow = x.size / (this.rows.end - this.rows.start);
    if (!Number.isInteger(perRow)) throw new Error(`internal: a dropout input of ${x.size} elements does not split into ${this.rows.end - this.rows.start} rows`);
    return this.rows.start * perRow;
  }
}

/** Per-row inputs the attention layers share: which keys are real. */
export interface Sequences {
  keyValid: Uint8Array;
}

export interface TransformerOptions {
  dim: number;
  heads: number;
  eps: number;
  /** Query i reads keys j ≤ i only (next-item models) or every real key (masked-item models). */
  causal: boolean;
  activation: 'relu' | 'gelu';
}

export class TransformerBlock extends EncoderBlock {
  readonly ln1: LayerNorm;
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly output: Linear;
  readonly ln2: LayerNorm;
  readonly ff1: Linear;
  readonly ff2: Linear;

  constructor(name: string, readonly options: TransformerOptions, private readonly dropout: DropoutCalls, rng: Rng) {
    super(name);
    const { dim, eps } = options;
    this.ln1 = this.child(new LayerNorm(this.childName('ln1'), dim, eps));
    this.query = this.child(new Linear(this.childName('attention.query'), dim, dim, rng));
    this.key = this.child(new Linear(this.childName('attention.key'), dim, dim, rng));
    this.value = this.child(new Linear(this.childName('attention.value'), dim, dim, rng));
    this.output = this.child(new Linear(this.childName('attention.output'), dim, dim, rng));
    this.ln2 = this.child(new LayerNorm(this.childName('ln2'), dim, eps));
    this.ff1 = this.child(new Linear(this.childName('ff1'), dim, dim, rng));
    this.ff2 = this.child(new Linear(this.childName('ff2'), dim, dim, rng));
  }

  forward(x: Tensor, seq: Sequences): Tensor {
    const p = this.patches;
    const { heads, causal, activation } = this.options;
    const a = this.ln1.forward(x);
    const context = attention(this.query.forward(a), this.key.forward(a), this.value.forward(a), { heads, causal, keyValid: seq.keyValid });
    let s1 = this.dropout.apply(this.output.forward(context));
    if (p?.afterSublayer) s1 = p.afterSublayer(0, s1, a);
    const h = add(x, s1);
    const f = this.ln2.forward(h);
    const inner = this.ff1.forward(f);
    let s2 = this.dropout.apply(this.ff2.forward(this.dropout.apply(activation === 'gelu' ? gelu(inner) : relu(inner))));
    if (p?.afterSublayer) s2 = p.afterSublayer(1, s2, f);
    return p?.residual ? p.residual(h, s2) : add(h, s2);
  }
}

/** Which keys of left-padded ids [B*L] are real (the mask token is an input, so it counts). */
export function realKeys(ids: Int32Array): Sequences {
  return { keyValid: Uint8Array.from(ids, (id) => (id !== 0 ? 1 : 0)) };
}

/** Row-major [batch, length] indices counting back from each row's last position (0 = the most recent input). */
export function positionsFromEnd(batch: number, length: number): Int32Array {
  const fromEnd = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) fromEnd[b * length + t] = length - 1 - t;
  return fromEnd;
}
