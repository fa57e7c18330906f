import { ShapeError } from '../../errors.js';
import { gradIfNeeded, record } from '../autograd.js';
import { backend } from '../backend.js';
import { Tensor, scratchFloats, shapeString } from '../tensor.js';

export interface AttentionOptions {
  heads: number;
  /** Query i attends to keys j ≤ i only (next-item models); false = bidirectional. */
  causal: boolean;
  /** [B*L]: 1 for a real key, 0 for padding (never attended to). */
  keyValid: Uint8Array;
}

/**
 * Multi-head scaled dot-product attention, softmax fused: q, k, v [B, L, heads*dh] → [B, L, heads*dh]. A query
 * with no allowed key (padding under a causal mask) gets zeros. Memory: the B·heads·L² probabilities.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  if (q.shape.length !== 3) throw new ShapeError(`attention: q must be [B, L, heads*dh], got ${shapeString(q.shape)}`);
  const [B, L, W] = q.shape as [number, number, number];
  for (const [name, t] of [['k', k], ['v', v]] as const) {
    if (t.shape.length !== 3 || t.shape.some((d, i) => d !== q.shape[i])) {
      throw new ShapeError(`attention: ${name} ${shapeString(t.shape)} does not match q ${shapeString(q.shape)}`);
    }
  }
  const H = options.heads;
  if (!Number.isInteger(H) || H < 1 || W % H !== 0) throw new ShapeError(`attention: ${H} heads do not divide ${W} channels`);
  if (options.keyValid.length !== B * L) {
    throw new ShapeError(`attention: keyValid has ${options.keyValid.length} entries, expected B*L = ${B * L}`);
  }
  const kn = backend();
  const out = Tensor.empty(q.shape);
  if (out.size === 0) return out;
  const probs = scratchFloats(B * H * L * L);
  kn.attentionForward(q.data, k.data, v.data, options.keyValid, probs, out.data, B, L, H, W / H, options.causal);
  return record(out, options.causal ? 'causalAttention' : 'attention', [q, k, v], (g) => {
    kn.attentionBackward(q.data, k.data, v.data, probs, g, gradIfNeeded(q), gradIfNeeded(k), gradIfNeeded(v), B, L, H,
      W / H, options.causal);
  });
}
