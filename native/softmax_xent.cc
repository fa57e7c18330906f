// Full softmax cross-entropy of hidden states h[N, C] against every row of an output table[V, C] (+ bias[V]),
// streamed over the vocabulary in chunks so batch x vocab logits never exist at once: forward keeps a running
// max and sum per row (online log-sum-exp) and saves lse[N]; backward recomputes each chunk's logits and turns
// them into gradients immediately. Memory is N x chunk floats regardless of V.
// Rows whose target equals ignoreIndex (padding) contribute neither loss nor gradient.
// Optional sparse extra logits: row n adds extraValues[j] to the logit of column extraCols[j] for j in
// extraIndptr[n] .. extraIndptr[n+1] (CSR; a repeated column adds up). They enter the log-sum-exp like any
// logit, so a head can add a per-user sparse term (an item-to-item table) to a dense softmax; backward gives
// dExtra[j] = dLoss/dextraValues[j].
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "args.h"
#include "fast_math.h"
#include "simd.h"
#include "gemm.h"
#include "reduce.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kChunkFloats = 1 << 22;  // 16 MiB of logits per chunk

struct XentShape {
  int64_t N, C, V, chunk;
  int32_t ignore;
};

int64_t chunk_size(int64_t N, int64_t V) { return std::min(V, std::max<int64_t>(256, kChunkFloats / N)); }

// logits[N, cv] = h @ table[v0 : v0+cv]^T + bias[v0 : v0+cv]
void chunk_logits(const XentShape& s, const float* h, const float* table, const float* bias, int64_t v0, int64_t cv,
                  float* logits) {
  gemm(false, true, (int)s.N, (int)cv, (int)s.C, 1.f, h, (int)s.C, table + v0 * s.C, (int)s.C, 0.f, logits, (int)cv);
  if (bias)
    parallel_range(s.N, 64, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n)
        for (int64_t v = 0; v < cv; ++v) logits[n * cv + v] += bias[v0 + v];
    });
}

// row[v] <- scale * exp(row[v] - lse): the softmax probabilities of one row's chunk, scaled by dLoss.
GRAFTREC_SIMD_CLONES
void scaled_softmax_in_place(float* __restrict row, int64_t n, float lse, float scale) {
#pragma omp simd
  for (int64_t v = 0; v < n; ++v) row[v] = scale * fast_exp(row[v] - lse);
}

struct XentArgs {
  View<float> h, table, bias;
  View<int32_t> targets;
  XentShape s;
};

XentArgs read_common(const Napi::CallbackInfo& info, const char* k, size_t shape_at) {
  SoftmaxHeadArgs a = read_softmax_head(info, k, shape_at);
  return {a.h, a.table, a.bias, a.targets, XentShape{a.N, a.C, a.V, chunk_size(a.N, a.V), a.ignore}};
}

struct ExtraLogits {
  View<int32_t> indptr, cols;
  View<float> values;
  explicit operator bool() const { return static_cast<bool>(indptr); }
};

// The optional CSR of extra logits at arguments first..first+2 (all three null, or all three given and valid).
ExtraLogits read_extra_logits(const Napi::CallbackInfo& info, const char* k, size_t first, const XentShape& s) {
  Napi::Env env = info.Env();
  if (info.Length() <= first || info[first].IsNull() || info[first].IsUndefined()) return {};
  ExtraLogits x{i32_arg(info, first, k, "extraIndptr"), i32_arg(info, first + 1, k, "extraCols"),
                f32_arg(info, first + 2, k, "extraValues")};
  expect_length(env, k, "extraIndptr", x.indptr, s.N + 1);
  if (x.indptr.data[0] != 0) fail(env, k, "extraIndptr must start at 0");
  for (int64_t n = 0; n < s.N; ++n)
    if (x.indptr.data[n + 1] < x.indptr.data[n]) fail(env, k, "extraIndptr must not decrease");
  const int64_t nnz = x.indptr.data[s.N];
  expect_length(env, k, "extraCols", x.cols, nnz);
  expect_length(env, k, "extraValues", x.values, nnz);
  for (int64_t j = 0; j < nnz; ++j)
    if (x.cols.data[j] < 0 || x.cols.data[j] >= s.V) fail(env, k, "extraCols holds a column outside 0..V-1");
  return x;
}

// logits[n, c - v0] += extra value, for the extra columns c of each row inside the chunk [v0, v0 + cv).
void add_extra_logits(const ExtraLogits& x, int64_t N, int64_t v0, int64_t cv, float* logits) {
  if (!x) return;
  for (int64_t n = 0; n < N; ++n)
    for (int32_t j = x.indptr.data[n]; j < x.indptr.data[n + 1]; ++j) {
      int64_t c = x.cols.data[j];
      if (c >= v0 && c < v0 + cv) logits[n * cv + (c - v0)] += x.values.data[j];
    }
}

// The extra logit of row n at column t (0 when the row has none there).
float extra_logit(const ExtraLogits& x, int64_t n, int32_t t) {
  if (!x) return 0.f;
  float v = 0.f;
  for (int32_t j = x.indptr.data[n]; j < x.indptr.data[n + 1]; ++j)
    if (x.cols.data[j] == t) v += x.values.data[j];
  return v;
}

// softmaxXentForward(h, table, bias|null, targets, lse, N, C, V, ignoreIndex
//                    [, extraIndptr|null, extraCols, extraValues]) -> summed loss over counted rows
Napi::Value softmax_xent_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "softmaxXentForward";
  XentArgs a = read_common(info, k, 5);
  auto lse = f32_arg(info, 4, k, "lse");
  expect_length(info.Env(), k, "lse", lse, a.s.N);
  const XentShape& s = a.s;
  const ExtraLogits extra = read_extra_logits(info, k, 9, s);

  std::vector<float> run_max(s.N, -std::numeric_limits<float>::infinity());
  std::vector<double> run_sum(s.N, 0.0);
  float* logits = scratch(0, s.N * s.chunk);
  for (int64_t v0 = 0; v0 < s.V; v0 += s.chunk) {
    int64_t cv = std::min(s.chunk, s.V - v0);
    chunk_logits(s, a.h.data, a.table.data, a.bias.data, v0, cv, logits);
    add_extra_logits(extra, s.N, v0, cv, logits);
    parallel_range(s.N, 16, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        const float* l = logits + n * cv;
        float m = run_max[n];
#pragma omp simd reduction(max : m)
        for (int64_t v = 0; v < cv; ++v) m = std::max(m, l[v]);
        float chunk_sum = 0.f;
#pragma omp simd reduction(+ : chunk_sum)
        for (int64_t v = 0; v < cv; ++v) chunk_sum += fast_exp(l[v] - m);
        run_sum[n] = run_sum[n] * std::exp(static_cast<double>(run_max[n]) - m) + chunk_sum;
        run_max[n] = m;
      }
    });
  }
  double loss = 0;
  for (int64_t n = 0; n < s.N; ++n) {
    lse.data[n] = static_cast<float>(run_max[n] + std::log(run_sum[n]));
    int32_t t = a.targets.data[n];
    if (t == s.ignore) continue;
    const float* hn = a.h.data + n * s.C;
    const float* et = a.table.data + static_cast<int64_t>(t) * s.C;
    double logit = (a.bias ? a.bias.data[t] : 0.0) + extra_logit(extra, n, t);
    for (int64_t c = 0; c < s.C; ++c) logit += static_cast<double>(hn[c]) * et[c];
    loss += lse.data[n] - logit;
  }
  return Napi::Number::New(info.Env(), loss);
}

// softmaxXentBackward(h, table, bias|null, targets, lse, gradScale, dh|null, dtable|null, dbias|null,
//                     N, C, V, ignoreIndex [, extraIndptr|null, extraCols, extraValues, dExtra|null])
//                     gradients accumulate (+=); gradScale = dLoss/dSummedLoss
void softmax_xent_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "softmaxXentBackward";
  Napi::Env env = info.Env();
  XentArgs a = read_common(info, k, 9);
  auto lse = f32_arg(info, 4, k, "lse");
  float scale = static_cast<float>(num_arg(info, 5, k, "gradScale"));
  const XentShape& s = a.s;
  const SoftmaxHeadGrads grads = read_softmax_head_grads(info, k, 6, s.N, s.C, s.V);
  const auto& dh = grads.dh;
  const auto& dtable = grads.dtable;
  const auto& dbias = grads.dbias;
  expect_length(env, k, "lse", lse, s.N);
  const ExtraLogits extra = read_extra_logits(info, k, 13, s);
  View<float> dextra = extra ? f32_arg(info, 16, k, "dExtra", true) : View<float>{};
  if (dextra) expect_length(env, k, "dExtra", dextra, extra.values.length);
  if (!grads.any() && !dextra) return;

  float* p = scratch(0, s.N * s.chunk);
  for (int64_t v0 = 0; v0 < s.V; v0 += s.chunk) {
    int64_t cv = std::min(s.chunk, s.V - v0);
    chunk_logits(s, a.h.data, a.table.data, a.bias.data, v0, cv, p);
    add_extra_logits(extra, s.N, v0, cv, p);
    // p <- scale * (softmax - onehot(target)), zero for ignored rows
    parallel_range(s.N, 16, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        float* row = p + n * cv;
        int32_t t = a.targets.data[n];
        if (t == s.ignore) {
          std::fill(row, row + cv, 0.f);
          continue;
        }
        scaled_softmax_in_place(row, cv, lse.data[n], scale);
        if (t >= v0 && t < v0 + cv) row[t - v0] -= scale;
      }
    });
    // An extra logit's gradient is its cell of scale * (softmax - onehot).
    if (dextra)
      for (int64_t n = 0; n < s.N; ++n)
        for (int32_t j = extra.indptr.data[n]; j < extra.indptr.data[n + 1]; ++j) {
          int64_t c = extra.cols.data[j];
          if (c >= v0 && c < v0 + cv) dextra.data[j] += p[n * cv + (c - v0)];
        }
    if (dh)
      gemm(false, false, (int)s.N, (int)s.C, (int)cv, 1.f, p, (int)cv, a.table.data + v0 * s.C, (int)s.C, 1.f,
           dh.data, (int)s.C);
    if (dtable)
      gemm(true, false, (int)cv, (int)s.C, (int)s.N, 1.f, p, (int)cv, a.h.data, (int)s.C, 1.f,
           dtable.data + v0 * s.C, (int)s.C);
    if (dbias) sum_rows_accumulate(p, s.N, cv, dbias.data + v0);
  }
}

}  // namespace

void register_softmax_xent(Napi::Env env, Napi::Object exports) {
  exports.Set("softmaxXentForward", Napi::Function::New(env, softmax_xent_forward_js, "softmaxXentForward"));
  exports.Set("softmaxXentBackward", Napi::Function::New(env, softmax_xent_backward_js, "softmaxXentBackward"));
}

}  // namespace graftrec
