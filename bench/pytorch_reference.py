#!/usr/bin/env python3
"""PyTorch (CPU) reference of graftrec's training step, for side-by-side speed comparison with
`graftrec bench train` (bench/train.ts). A benchmark baseline only: graftrec never depends on PyTorch.

--backbone nextitnet (default), sasrec or gru4rec; the SASRec and GRU4Rec models are in bench/pytorch_backbones.py
(tied output table without bias, as graftrec's), and share everything else here: the batches, the sampled / full
softmax, the optimizers, the timing and the output. --dim, --layers, --heads, --dropout default per backbone as
graftrec's src/config/schema.ts does.

Same model and step as graftrec's NextItNet causal training step:
  input item table [V+1, C] (row 0 = padding) -> `blocks` residual blocks, each
    x -> causal dilated conv(k=3, d) -> LayerNorm(eps=1e-8) -> ReLU -> conv(2d) -> LayerNorm -> ReLU -> + x
  (block dilations cycle [1, 4]) -> hidden [B*L, C]
  -> separate output table [V+1, C] + bias [V+1]:
     --negatives N > 0: sampled softmax, N negatives shared by the batch drawn from a fixed distribution
       (graftrec's smoothed-unigram sampler on all-ones counts, i.e. uniform over items 1..V), logQ correction,
       accidental hits masked, targets 0 ignored, mean over counted positions;
     --negatives 0: full softmax with F.cross_entropy over all V+1 rows (materialises B*L x (V+1) logits,
       which graftrec's chunked kernel never does).
  -> backward -> Adam(lr=1e-3).
Random full-length sequences as in bench/train.ts; batch assembly is outside the timed region.

Variants, chosen as a strong PyTorch user would and measured, the faster one reported:
  --optimizer sparse: nn.Embedding(sparse=True) item tables (input table, output table, output bias) with
                      torch.optim.SparseAdam (lazy row updates, like graftrec) + torch.optim.Adam for the rest.
  --optimizer dense:  dense tables and torch.optim.Adam (foreach) for everything.
  --conv conv1d: nn.Conv1d on [B, C, L] with explicit left padding; the activations are kept channels-last
                 [B, L, C] for LayerNorm, so each conv pays a transpose in and out (counted in the step).
  --conv matmul: channels-last im2col (three shifted views concatenated) @ weight [3C, C], as graftrec does.
  --attention mha|manual|sdpa (sasrec only): see bench/pytorch_backbones.py.
  auto (the default) runs each combination in its own subprocess (so peak RSS is per variant) and prints
  the fastest, with every candidate's seq/s under "candidates".
  With --negatives 0 the output table's gradient is dense (it multiplies every hidden row), so the output table
  goes to dense Adam in both variants; only the input table is sparse in the "sparse" variant. A tied table
  (sasrec, gru4rec) is then dense in both, so only the dense variant runs.

Interpreter: Debian's python3-torch (apt-get install python3-torch libopenblas0-pthread) installs torch for
Debian's /usr/bin/python3; a pyenv/venv python3 earlier on PATH usually cannot import it. bench/compare-train.sh
picks the first interpreter that can `import torch`, trying /usr/bin/python3 first.

Prints one JSON line:
  {"bench":"train-pytorch","torch":..,"threads":..,"seqPerSec":..,"msPerStep":..,"peakRssMB":..,"optimizer":..,...}
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_backbones import ATTENTIONS, DEFAULTS, attention_variants, build as build_backbone  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--items', type=int, default=100_000)
    p.add_argument('--backbone', choices=sorted(DEFAULTS), default='nextitnet')
    p.add_argument('--dim', type=int, default=None, help='default per backbone (nextitnet 64, sasrec 50, gru4rec 64)')
    p.add_argument('--blocks', type=int, default=8, help='nextitnet: residual blocks')
    p.add_argument('--layers', type=int, default=None, help='sasrec: transformer layers (2); gru4rec: GRU layers (1)')
    p.add_argument('--heads', type=int, default=None, help='sasrec: attention heads (1)')
    p.add_argument('--dropout', type=float, default=None, help='sasrec (0.5), gru4rec (0.25)')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--max-len', type=int, default=50)
    p.add_argument('--negatives', type=int, default=100, help='0 = full softmax, N = sampled softmax')
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    p.add_argument('--optimizer', choices=['auto', 'sparse', 'dense'], default='auto')
    p.add_argument('--conv', choices=['auto', 'conv1d', 'matmul'], default='auto', help='nextitnet')
    p.add_argument('--attention', choices=['auto'] + ATTENTIONS, default='auto', help='sasrec')
    p.add_argument('--check', action='store_true',
                   help='correctness check instead of timing: loss on one repeated tiny batch must fall')
    p.add_argument('--json', action='store_true', help='print one JSON object (default: key=value)')
    args = p.parse_args(argv)
    for key, value in DEFAULTS[args.backbone].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def emit(record, as_json):
    if as_json:
        print(json.dumps(record), flush=True)
    else:
        print('  '.join(f'{k}={v}' for k, v in record.items()), flush=True)


def run_auto(args):
    """Runs every requested variant in its own process; prints the fastest."""
    tied = args.backbone != 'nextitnet'
    if args.optimizer != 'auto':
        optimizers = [args.optimizer]
    else:  # a tied table under the full softmax has a dense gradient: the sparse variant would be the dense one
        optimizers = ['dense'] if tied and args.negatives == 0 else ['sparse', 'dense']
    if args.backbone == 'nextitnet':
        forwards = [['--conv', c] for c in (['conv1d', 'matmul'] if args.conv == 'auto' else [args.conv])]
    elif args.backbone == 'sasrec':
        has_sdpa = subprocess.run([sys.executable, '-c', 'import torch.nn.functional as F; '
                                   'assert hasattr(F, "scaled_dot_product_attention")'],
                                  stderr=subprocess.DEVNULL).returncode == 0
        kinds = attention_variants(has_sdpa) if args.attention == 'auto' else [args.attention]
        forwards = [['--attention', a] for a in kinds]
    else:
        forwards = [[]]
    base = [sys.executable, os.path.abspath(__file__), '--json', '--backbone', args.backbone,
            '--items', str(args.items), '--dim', str(args.dim), '--blocks', str(args.blocks),
            '--batch', str(args.batch), '--max-len', str(args.max_len), '--negatives', str(args.negatives),
            '--steps', str(args.steps), '--warmup', str(args.warmup), '--seed', str(args.seed)]
    if args.threads is not None:
        base += ['--threads', str(args.threads)]
    for key in ('layers', 'heads', 'dropout'):
        if getattr(args, key) is not None:
            base += [f'--{key}', str(getattr(args, key))]
    results = []
    for opt in optimizers:
        for fwd in forwards:
            out = subprocess.run(base + ['--optimizer', opt] + fwd, stdout=subprocess.PIPE, text=True)
            if out.returncode != 0:
                sys.exit(f'pytorch_reference: variant optimizer={opt} {" ".join(fwd)} failed (exit {out.returncode})')
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = max(results, key=lambda r: r['seqPerSec'])
    best['candidates'] = {r['variant']: r['seqPerSec'] for r in results}
    emit(best, args.json)


def main():
    args = parse_args()
    auto_forward = {'nextitnet': args.conv, 'sasrec': args.attention}.get(args.backbone) == 'auto'
    if not args.check and (args.optimizer == 'auto' or auto_forward):
        run_auto(args)
        return

    if args.threads is not None:
        # torch.set_num_threads only sizes torch's OpenMP pool; Debian's torch calls the system BLAS (OpenBLAS),
        # whose own thread pool defaults to every core. Cap both, as graftrec's --threads caps its pool and BLAS.
        for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
            os.environ[var] = str(args.threads)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set (only possible once per process, before any inter-op work)
    torch.manual_seed(args.seed)

    V, C, B, L, S = args.items, args.dim, args.batch, args.max_len, args.negatives
    tied = args.backbone != 'nextitnet'
    # A tied table under the full softmax gets a dense gradient (it multiplies every hidden row): dense Adam.
    sparse = args.optimizer == 'sparse' and not (tied and S == 0)
    conv_kind = 'conv1d' if args.conv == 'auto' else args.conv
    if args.attention == 'auto':
        args.attention = 'mha'
    eps = 1e-8

    def trunc_normal_(t, std=0.02):
        return nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)

    class CausalConv(nn.Module):
        """Causal dilated conv over channels-last [B, L, C]: left padding (k-1)*d, no look-ahead."""

        def __init__(self, dim, k, dilation):
            super().__init__()
            self.k, self.d = k, dilation
            if conv_kind == 'conv1d':
                self.conv = nn.Conv1d(dim, dim, k, dilation=dilation)
                trunc_normal_(self.conv.weight)
                nn.init.zeros_(self.conv.bias)
            else:
                self.weight = nn.Parameter(trunc_normal_(torch.empty(k * dim, dim)))  # tap-major [k*Cin, Cout]
                self.bias = nn.Parameter(torch.zeros(dim))

        def forward(self, x):  # x [B, L, C]
            pad = (self.k - 1) * self.d
            if conv_kind == 'conv1d':
                y = self.conv(F.pad(x.transpose(1, 2), (pad, 0)))  # [B, C, L]
                return y.transpose(1, 2)
            length = x.shape[1]
            xp = F.pad(x, (0, 0, pad, 0))  # pad the time axis on the left
            cols = torch.cat([xp[:, j * self.d: j * self.d + length] for j in range(self.k)], dim=-1)
            return torch.addmm(self.bias, cols.reshape(-1, cols.shape[-1]), self.weight).view(x.shape[0], length, -1)

    class Block(nn.Module):
        def __init__(self, dim, dilation):
            super().__init__()
            self.conv1 = CausalConv(dim, 3, dilation)
            self.ln1 = nn.LayerNorm(dim, eps=eps)
            self.conv2 = CausalConv(dim, 3, 2 * dilation)
            self.ln2 = nn.LayerNorm(dim, eps=eps)

        def forward(self, x):
            h = F.relu(self.ln1(self.conv1(x)))
            return F.relu(self.ln2(self.conv2(h))) + x

    class NextItNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.items = nn.Embedding(V + 1, C, sparse=sparse)
            trunc_normal_(self.items.weight)
            self.blocks = nn.ModuleList([Block(C, [1, 4][i % 2]) for i in range(args.blocks)])
            # Output table and bias as [V+1, C] and [V+1, 1] embeddings so the sampled softmax gathers rows
            # (sparse gradients when sparse=True). Full softmax uses .weight directly: a dense gradient.
            out_sparse = sparse and S > 0
            self.out_w = nn.Embedding(V + 1, C, sparse=out_sparse)
            trunc_normal_(self.out_w.weight)
            self.out_b = nn.Embedding(V + 1, 1, sparse=out_sparse)
            nn.init.zeros_(self.out_b.weight)

        def hidden(self, ids):  # ids [B, L] -> [B*L, C]
            h = self.items(ids)
            for blk in self.blocks:
                h = blk(h)
            return h.reshape(-1, C)

    model = NextItNet() if not tied else build_backbone(args.backbone, args, torch, nn, F, sparse, trunc_normal_)

    # Negative sampler: graftrec's smoothed unigram (count + 1)^0.75 over items 1..V on all-ones counts.
    counts = torch.ones(V + 1, dtype=torch.float64)
    weights = (counts[1:] + 1) ** 0.75
    probs = weights / weights.sum()
    cdf = torch.cumsum(probs, 0)
    cdf[-1] = 1.0
    log_q = torch.zeros(V + 1, dtype=torch.float32)
    log_q[1:] = torch.log(probs).float()

    def sample_negatives(n):
        return torch.searchsorted(cdf, torch.rand(n, dtype=torch.float64), right=True).clamp_(max=V - 1) + 1

    def loss_fn(h, targets):
        if S == 0:
            if model.out_b is None:
                logits = h @ model.out_w.weight.t()  # [N, V+1]
            else:
                logits = torch.addmm(model.out_b.weight.view(-1), h, model.out_w.weight.t())
            return F.cross_entropy(logits, targets, ignore_index=0)
        keep = targets != 0
        h, t = h[keep], targets[keep]
        neg = sample_negatives(S)
        if model.out_b is None:  # tied, no bias
            pos = (h * model.out_w(t)).sum(-1) - log_q[t]
            neg_logits = torch.addmm((-log_q[neg]).view(1, -1), h, model.out_w(neg).t())  # [n, S]
        else:
            pos = (h * model.out_w(t)).sum(-1) + model.out_b(t).view(-1) - log_q[t]
            neg_logits = torch.addmm(model.out_b(neg).view(1, -1) - log_q[neg], h, model.out_w(neg).t())
        neg_logits = neg_logits.masked_fill(t.unsqueeze(1) == neg.unsqueeze(0), float('-inf'))  # accidental hits
        logits = torch.cat([pos.unsqueeze(1), neg_logits], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(t))

    tables = {id(m): m for m in (model.items, model.out_w, model.out_b) if m is not None}.values()
    sparse_params = [p for m in tables if m.sparse for p in m.parameters()]
    sparse_ids = {id(p) for p in sparse_params}
    dense_params = [p for p in model.parameters() if id(p) not in sparse_ids]
    optimizers = [torch.optim.Adam(dense_params, lr=1e-3)]
    if sparse_params:
        optimizers.append(torch.optim.SparseAdam(sparse_params, lr=1e-3))

    def step(ids, targets):
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        loss = loss_fn(model.hidden(ids), targets)
        loss.backward()
        for o in optimizers:
            o.step()
        return loss.item()

    gen = torch.Generator().manual_seed(args.seed)

    def make_batch():
        seqs = torch.randint(1, V + 1, (B, L + 1), generator=gen)
        return seqs[:, :-1].contiguous(), seqs[:, 1:].reshape(-1).contiguous()

    if args.check:
        check(torch, model, make_batch, step, loss_fn, V, C, B, L, S)
        return

    for _ in range(args.warmup):
        step(*make_batch())
    total = 0.0
    for _ in range(args.steps):
        ids, targets = make_batch()  # data loading, not the step: outside the timing
        t0 = time.perf_counter()
        step(ids, targets)
        total += time.perf_counter() - t0
    ms = total * 1000 / args.steps
    forward_variant = {'nextitnet': conv_kind, 'sasrec': args.attention}.get(args.backbone)
    optimizer_variant = 'sparse' if sparse else 'dense'
    emit({
        'bench': 'train-pytorch', 'torch': torch.__version__, 'backbone': args.backbone, 'items': V, 'dim': C,
        **({'blocks': args.blocks} if not tied else {'layers': args.layers, 'dropout': args.dropout}),
        **({'heads': args.heads} if args.backbone == 'sasrec' else {}),
        'batch': B, 'maxLen': L, 'negatives': S, 'steps': args.steps, 'warmup': args.warmup,
        'threads': torch.get_num_threads(), 'blasThreads': blas_threads(),
        'seqPerSec': round(B / ms * 1000, 1), 'msPerStep': round(ms, 2),
        'peakRssMB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        'optimizer': 'SparseAdam+Adam' if sparse else 'Adam(dense)',
        'optimizerVariant': optimizer_variant,
        **({'conv': conv_kind} if args.backbone == 'nextitnet' else {}),
        **({'attention': args.attention} if args.backbone == 'sasrec' else {}),
        'variant': '/'.join(v for v in (optimizer_variant, forward_variant) if v),
    }, args.json)


def blas_threads():
    """OpenBLAS's thread count as torch's process sees it (None if torch does not use OpenBLAS)."""
    import ctypes
    try:
        return ctypes.CDLL('libopenblas.so.0').openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


def check(torch, model, make_batch, step, loss_fn, V, C, B, L, S):
    """Shapes, causality and a falling loss on one repeated batch."""
    ids, targets = make_batch()
    h = model.hidden(ids)
    model.eval()  # dropout off for the comparisons below
    assert h.shape == (B * L, C), h.shape
    # Causality: changing the last input item must not change any earlier hidden state.
    ids2 = ids.clone()
    ids2[:, -1] = (ids2[:, -1] % V) + 1
    with torch.no_grad():
        a = model.hidden(ids).view(B, L, C)
        b = model.hidden(ids2).view(B, L, C)
    assert torch.allclose(a[:, :-1], b[:, :-1]), 'look-ahead: earlier positions changed'
    assert not torch.allclose(a[:, -1], b[:, -1]), 'last position ignored its input'
    # Padding targets (0) are ignored: the loss equals the loss over only the non-padding rows.
    padded = targets.clone()
    padded[::2] = 0
    with torch.no_grad():
        torch.manual_seed(7)
        with_pad = loss_fn(h, padded).item()
        torch.manual_seed(7)
        without = loss_fn(h[1::2], targets[1::2]).item()
    assert abs(with_pad - without) < 1e-4 * max(1.0, abs(without)), (with_pad, without)
    if model.__class__.__name__ == 'SASRec':
        # Left padding changes no real position's state (positions count back from the most recent item).
        padded_ids = ids.clone()
        padded_ids[:, : L // 2] = 0
        with torch.no_grad():
            short = model.hidden(ids[:, L // 2:].contiguous()).view(B, -1, C)
            full = model.hidden(padded_ids).view(B, L, C)
        assert torch.allclose(full[:, L // 2:], short, atol=1e-5), 'left padding changed real positions'
        assert torch.isfinite(full).all(), 'padding rows are not finite'
    model.train()
    # Tied tables start small (std 0.02), so their logits move slowly at first: more steps for those.
    losses = [step(ids, targets) for _ in range(30 if model.out_b is not None else 200)]
    print(json.dumps({'check': 'ok', 'backbone': model.__class__.__name__, 'negatives': S, 'hidden': list(h.shape),
                      'loss': [round(x, 4) for x in losses[::len(losses) // 6]] + [round(losses[-1], 4)]}))
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] * 0.8, f'loss did not fall: {losses[0]} -> {losses[-1]}'


if __name__ == '__main__':
    main()
