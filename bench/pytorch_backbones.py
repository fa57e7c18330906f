"""PyTorch (CPU) models of graftrec's SASRec and GRU4Rec backbones for bench/pytorch_reference.py, which owns the
argument parsing, loss, optimizers, timing and output. A benchmark baseline only: graftrec never depends on PyTorch.

Both score items against their own item table (tied output, no bias), as graftrec's src/models/sasrec.ts and
src/models/gru4rec.ts do. Row 0 of the item table is padding; sequences are left-padded.

SASRec (src/models/sasrec.ts, src/models/transformer.ts):
  e = sqrt(dim) * items(ids) + positions(distance from the most recent item)
  h = Dropout(e)
  each layer (pre-LN, LayerNorm eps 1e-8):
    h = h + Dropout(Wo . Attention(LN1(h)))             causal, padding keys masked, `heads` heads
    h = h + Dropout(W2 . Dropout(ReLU(W1 . LN2(h))))    feed-forward of width dim
  out = LN(h)
  Q/K/V projections as one fused [C, 3C] linear (what nn.MultiheadAttention holds; graftrec keeps three [C, C]
  linears: the same products). Attention variants (--attention):
    mha:    nn.MultiheadAttention(batch_first=True) with a causal attn_mask and a key_padding_mask
    manual: q @ k^T / sqrt(d) -> masked_fill -> softmax -> @ v (batched matmuls)
    sdpa:   F.scaled_dot_product_attention with a boolean causal+padding mask (torch >= 2.0 only)
  A padding query (left of a row's first item) would see no key at all; it may see itself, so no row of the
  softmax is empty (its output is never scored: padding targets are ignored).

GRU4Rec (src/models/gru4rec.ts):
  h = Dropout(items(ids)) -> nn.GRU(dim, dim, layers, batch_first=True) -> out = h
  The timed batches are full-length (no padding), so the GRU runs over whole rows; graftrec restarts the state at
  a row's first real item, which for full rows is the zero state at position 0, as nn.GRU starts.
"""
import math

# Per-backbone defaults, as src/config/schema.ts (DEFAULT_DIM, DEFAULT_LAYERS, DEFAULT_HEADS, DEFAULT_DROPOUT).
DEFAULTS = {
    'nextitnet': {'dim': 64},
    'sasrec': {'dim': 50, 'layers': 2, 'heads': 1, 'dropout': 0.5},
    'gru4rec': {'dim': 64, 'layers': 1, 'dropout': 0.25},
}

# The variants of each backbone's forward pass that --attention auto tries (besides the optimizer variants).
ATTENTIONS = ['mha', 'manual', 'sdpa']


def attention_variants(torch_has_sdpa):
    return [a for a in ATTENTIONS if a != 'sdpa' or torch_has_sdpa]


def build(backbone, args, torch, nn, F, sparse, trunc_normal_):
    """The model: .items (nn.Embedding, also the output table), .out_w (= .items), .out_b (None), .hidden(ids)."""
    V, C, L = args.items, args.dim, args.max_len

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.items = nn.Embedding(V + 1, C, sparse=sparse)
            trunc_normal_(self.items.weight)
            self.out_w = self.items  # tied: the same module, so its parameters are counted once
            self.out_b = None

    if backbone == 'gru4rec':
        class GRU4Rec(Tied):
            def __init__(self):
                super().__init__()
                self.dropout = nn.Dropout(args.dropout)
                self.gru = nn.GRU(C, C, num_layers=args.layers, batch_first=True)

            def hidden(self, ids):  # [B, L] -> [B*L, C]
                out, _ = self.gru(self.dropout(self.items(ids)))
                return out.reshape(-1, C)

        return GRU4Rec()

    if backbone != 'sasrec':
        raise ValueError(f'unknown backbone {backbone}')
    H = args.heads
    if C % H != 0:
        raise ValueError(f'sasrec: {H} heads do not divide dim {C}')
    kind = args.attention
    eps = 1e-8

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(C, eps=eps)
            if kind == 'mha':
                self.mha = nn.MultiheadAttention(C, H, dropout=0.0, bias=True, batch_first=True)
            else:
                self.qkv = nn.Linear(C, 3 * C)
                self.out = nn.Linear(C, C)
            self.ln2 = nn.LayerNorm(C, eps=eps)
            self.ff1 = nn.Linear(C, C)
            self.ff2 = nn.Linear(C, C)
            self.drop = nn.Dropout(args.dropout)

        def attend(self, a, masks):
            if kind == 'mha':
                causal, key_pad, _ = masks
                return self.mha(a, a, a, attn_mask=causal, key_padding_mask=key_pad, need_weights=False)[0]
            B, T, _ = a.shape
            q, k, v = self.qkv(a).view(B, T, 3, H, C // H).permute(2, 0, 3, 1, 4)  # each [B, H, T, d]
            allowed = masks[2]  # [B, 1, T, T] bool, True = may attend
            if kind == 'sdpa':
                ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
            else:
                scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(C // H))
                ctx = scores.masked_fill(~allowed, float('-inf')).softmax(-1) @ v
            return self.out(ctx.transpose(1, 2).reshape(B, T, C))

        def forward(self, h, masks):
            h = h + self.drop(self.attend(self.ln1(h), masks))
            return h + self.drop(self.ff2(self.drop(F.relu(self.ff1(self.ln2(h))))))

    class SASRec(Tied):
        def __init__(self):
            super().__init__()
            self.positions = nn.Embedding(L, C)  # row d: d items before the most recent one
            trunc_normal_(self.positions.weight)
            self.layers = nn.ModuleList([Layer() for _ in range(args.layers)])
            self.final_norm = nn.LayerNorm(C, eps=eps)
            self.drop = nn.Dropout(args.dropout)

        def masks(self, ids):
            T = ids.shape[1]
            valid = ids != 0
            eye = torch.eye(T, dtype=torch.bool)
            causal_ok = torch.ones(T, T, dtype=torch.bool).tril()
            # Key j is visible to query i when j <= i and j is a real item (or j == i: no empty softmax row).
            allowed = (causal_ok & (valid[:, None, :] | eye)).unsqueeze(1)  # [B, 1, T, T]
            if kind != 'mha':
                return None, None, allowed
            # nn.MultiheadAttention: True = masked. Without padding the causal [T, T] mask is all there is;
            # with padding, the per-row mask goes in MHA's general [B*H, T, T] float form.
            if bool((~valid).any()):
                bad = ~allowed.expand(-1, H, -1, -1).reshape(-1, T, T)
                return torch.zeros(bad.shape).masked_fill_(bad, float('-inf')), None, allowed
            return ~causal_ok, None, allowed

        def hidden(self, ids):  # [B, L] -> [B*L, C]
            B, T = ids.shape
            pos = torch.arange(T - 1, -1, -1)
            h = self.drop(self.items(ids) * math.sqrt(C) + self.positions(pos))
            masks = self.masks(ids)
            for layer in self.layers:
                h = layer(h, masks)
            return self.final_norm(h).reshape(-1, C)

    return SASRec()
