// Sampled softmax with negatives shared by the whole batch and logQ correction (Jean et al. 2015; Yi et al. 2019):
// each row's logits are [target, neg_1 .. neg_S], every logit minus log Q(item) (its sampling log-probability) so
// the sampled loss is an unbiased-in-the-limit estimate of the full softmax. A negative equal to the row's target
// is an accidental hit and is removed (logit -inf), as TF's sampled_softmax_loss does.
// Forward saves the probabilities probs[N, S+1] (column 0 = target) that backward turns into gradients.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "args.h"
#include "fast_math.h"
#include "simd.h"
#include "gemm.h"
#include "prefetch.h"
#include "reduce.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct SampledArgs : SoftmaxHeadArgs {
  View<int32_t> negatives;
  int64_t S = 0;
};

SampledArgs read_common(const Napi::CallbackInfo& info, const char* k, size_t shape_at) {
  SampledArgs a;
  static_cast<SoftmaxHeadArgs&>(a) = read_softmax_head(info, k, shape_at);
  a.negatives = i32_arg(info, 4, k, "negatives");
  a.S = static_cast<int64_t>(a.negatives.length);
  if (a.S < 1) fail(info.Env(), k, "negatives must hold at least one id");
  expect_ids_in_range(info.Env(), k, "negatives", a.negatives, a.V);
  return a;
}

// Copies the negatives' rows into a dense [S, C] block so one GEMM scores them all.
float* gather_negatives(const SampledArgs& a, int slot) {
  float* e = scratch(slot, a.S * a.C);
  for (int64_t s = 0; s < a.S; ++s)
    std::memcpy(e + s * a.C, a.table.data + static_cast<int64_t>(a.negatives.data[s]) * a.C, sizeof(float) * a.C);
  return e;
}

GRAFTREC_SIMD_CLONES
float dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

// One row of the forward pass. On entry row[0] holds the target's logit and row[1..S] holds h·e_neg; on exit
// row[0..S] holds the probabilities of [target, negatives]. Returns the row's loss (log-sum-exp minus the target
// logit). The row is worked on in `tmp` (Wp = S + 1 rounded up to 16 floats, the tail padded with -inf, whose
// exp is 0), so every loop runs in whole vectors with no scalar remainder.
GRAFTREC_SIMD_CLONES
double softmax_row(float* row, const float* neg_shift, const int32_t* ids, int32_t target, int64_t S, float* tmp,
                   int64_t Wp) {
  const int64_t W = S + 1;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  tmp[0] = row[0];
  const float* neg = row + 1;
  float* tneg = tmp + 1;
#pragma omp simd
  for (int64_t j = 0; j < S; ++j) {
    const float shifted = neg[j] + neg_shift[j];
    tneg[j] = ids[j] == target ? neg_inf : shifted;  // accidental hit: the target drawn as a negative
  }
  for (int64_t j = W; j < Wp; ++j) tmp[j] = neg_inf;
  float m = tmp[0];
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < Wp; ++j) m = std::max(m, tmp[j]);
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < Wp; ++j) sum += fast_exp(tmp[j] - m);
  const float lse = m + std::log(sum);
  const double loss = static_cast<double>(lse) - tmp[0];
#pragma omp simd
  for (int64_t j = 0; j < Wp; ++j) tmp[j] = fast_exp(tmp[j] - lse);
  std::memcpy(row, tmp, sizeof(float) * W);
  return loss;
}

// sampledSoftmaxForward(h, table, bias|null, targets, negatives, logQ|null, probs, N, C, V, ignoreIndex)
//   -> summed loss over rows whose target is not ignoreIndex
Napi::Value sampled_softmax_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "sampledSoftmaxForward";
  Napi::Env env = info.Env();
  SampledArgs a = read_common(info, k, 7);
  auto logq = f32_arg(info, 5, k, "logQ", true);
  auto probs = f32_arg(info, 6, k, "probs");
  if (logq) expect_length(env, k, "logQ", logq, a.V);
  const int64_t W = a.S + 1;
  expect_length(env, k, "probs", probs, a.N * W);

  float* eneg = gather_negatives(a, 0);
  gemm(false, true, (int)a.N, (int)a.S, (int)a.C, 1.f, a.h.data, (int)a.C, eneg, (int)a.C, 0.f, probs.data + 1,
       (int)W);
  // bias - logQ of each negative is the same for every row: computed once.
  std::vector<float> neg_shift(a.S);
  for (int64_t j = 0; j < a.S; ++j) {
    int32_t id = a.negatives.data[j];
    neg_shift[j] = (a.bias ? a.bias.data[id] : 0.f) - (logq ? logq.data[id] : 0.f);
  }
  std::vector<double> row_loss(a.N, 0.0);
  parallel_range(a.N, 32, [&](int64_t b, int64_t e) {
    // Target logits first, in a loop of short independent iterations with the table rows prefetched: each
    // target row is a cache miss in a large table, which the long softmax rows would otherwise serialise.
    for (int64_t n = b; n < e; ++n) {
      if (n + kPrefetchRows < e) {
        const int32_t ahead = a.targets.data[n + kPrefetchRows];
        if (ahead != a.ignore) prefetch_span(a.table.data + static_cast<int64_t>(ahead) * a.C, a.C * 4);
      }
      const int32_t t = a.targets.data[n];
      if (t == a.ignore) continue;
      probs.data[n * W] = dot(a.h.data + n * a.C, a.table.data + static_cast<int64_t>(t) * a.C, a.C) +
                          (a.bias ? a.bias.data[t] : 0.f) - (logq ? logq.data[t] : 0.f);
    }
    const int64_t Wp = (W + 15) / 16 * 16;
    std::vector<float> tmp_buf(Wp + 16);
    float* tmp = tmp_buf.data() + (16 - (reinterpret_cast<uintptr_t>(tmp_buf.data()) / sizeof(float)) % 16) % 16;
    for (int64_t n = b; n < e; ++n) {
      float* row = probs.data + n * W;
      int32_t t = a.targets.data[n];
      if (t == a.ignore) {
        std::fill(row, row + W, 0.f);
        continue;
      }
      row_loss[n] = softmax_row(row, neg_shift.data(), a.negatives.data, t, a.S, tmp, Wp);
    }
  });
  double loss = 0;
  for (double l : row_loss) loss += l;
  return Napi::Number::New(env, loss);
}

// sampledSoftmaxBackward(h, table, bias|null, targets, negatives, probs, gradScale, dh|null, dtable|null,
//                        dbias|null, N, C, V, ignoreIndex)   gradients accumulate (+=)
void sampled_softmax_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "sampledSoftmaxBackward";
  Napi::Env env = info.Env();
  SampledArgs a = read_common(info, k, 10);
  auto probs = f32_arg(info, 5, k, "probs");
  float scale = static_cast<float>(num_arg(info, 6, k, "gradScale"));
  const SoftmaxHeadGrads grads = read_softmax_head_grads(info, k, 7, a.N, a.C, a.V);
  const auto& dh = grads.dh;
  const auto& dtable = grads.dtable;
  const auto& dbias = grads.dbias;
  const int64_t W = a.S + 1;
  expect_length(env, k, "probs", probs, a.N * W);
  if (!grads.any()) return;

  // g = scale * (probs - onehot(column 0)); ignored rows already hold zeros in probs.
  float* g = scratch(1, a.N * W);
  parallel_range(a.N, 64, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float* pr = probs.data + n * W;
      float* gr = g + n * W;
      bool counted = a.targets.data[n] != a.ignore;
      for (int64_t j = 0; j < W; ++j) gr[j] = counted ? scale * pr[j] : 0.f;
      if (counted) gr[0] -= scale;
    }
  });

  if (dh) {
    float* eneg = gather_negatives(a, 0);
    gemm(false, false, (int)a.N, (int)a.C, (int)a.S, 1.f, g + 1, (int)W, eneg, (int)a.C, 1.f, dh.data, (int)a.C);
    parallel_range(a.N, 64, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        if (n + kPrefetchRows < e) {
          const int32_t ahead = a.targets.data[n + kPrefetchRows];
          if (ahead != a.ignore) prefetch_span(a.table.data + static_cast<int64_t>(ahead) * a.C, a.C * 4);
        }
        int32_t t = a.targets.data[n];
        if (t == a.ignore) continue;
        const float* et = a.table.data + static_cast<int64_t>(t) * a.C;
        float gt = g[n * W];
        for (int64_t c = 0; c < a.C; ++c) dh.data[n * a.C + c] += gt * et[c];
      }
    });
  }
  if (dtable) {
    float* dneg = scratch(2, a.S * a.C);
    gemm(true, false, (int)a.S, (int)a.C, (int)a.N, 1.f, g + 1, (int)W, a.h.data, (int)a.C, 0.f, dneg, (int)a.C);
    // Sequential scatter: negatives and targets may repeat, and a fixed order keeps the sums deterministic.
    for (int64_t s = 0; s < a.S; ++s) {
      float* dst = dtable.data + static_cast<int64_t>(a.negatives.data[s]) * a.C;
      for (int64_t c = 0; c < a.C; ++c) dst[c] += dneg[s * a.C + c];
    }
    for (int64_t n = 0; n < a.N; ++n) {
      if (n + kPrefetchRows < a.N) {
        const int32_t ahead = a.targets.data[n + kPrefetchRows];
        if (ahead != a.ignore) prefetch_span(dtable.data + static_cast<int64_t>(ahead) * a.C, a.C * 4, true);
      }
      int32_t t = a.targets.data[n];
      if (t == a.ignore) continue;
      float* dst = dtable.data + static_cast<int64_t>(t) * a.C;
      const float* hn = a.h.data + n * a.C;
      float gt = g[n * W];
      for (int64_t c = 0; c < a.C; ++c) dst[c] += gt * hn[c];
    }
  }
  if (dbias) {
    std::vector<float> col(W, 0.f);
    sum_rows_accumulate(g, a.N, W, col.data());
    for (int64_t s = 0; s < a.S; ++s) dbias.data[a.negatives.data[s]] += col[s + 1];
    for (int64_t n = 0; n < a.N; ++n)
      if (a.targets.data[n] != a.ignore) dbias.data[a.targets.data[n]] += g[n * W];
  }
}

}  // namespace

void register_sampled_softmax(Napi::Env env, Napi::Object exports) {
  exports.Set("sampledSoftmaxForward", Napi::Function::New(env, sampled_softmax_forward_js, "sampledSoftmaxForward"));
  exports.Set("sampledSoftmaxBackward",
              Napi::Function::New(env, sampled_softmax_backward_js, "sampledSoftmaxBackward"));
}

}  // namespace graftrec
