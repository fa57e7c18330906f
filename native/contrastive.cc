// Contrastive (InfoNCE / NT-Xent) pretraining kernels, as in SimCLR and CLUE:
//   row L2 normalisation   y[r] = x[r] / max(|x[r]|, eps)            (projected user vectors onto the unit sphere)
//   InfoNCE                 loss_i = -log softmax_{j != i}(sim[i, j] / tau)[positive(i)]
// over a similarity matrix sim[N, N] of N views (the cosine similarities z z^T, made with the ordinary gemm).
// Row i's own similarity is never a candidate; every other view in the batch is a negative except its positive.
// Every row is computed by one task and the loss is summed in row order, so results do not depend on threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "args.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kGrainFloats = 1 << 14;

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(cols, 1)); }

double positive_number_arg(const Napi::CallbackInfo& info, size_t i, const char* k, const char* name) {
  double v = num_arg(info, i, k, name);
  if (!(v > 0.0) || !std::isfinite(v)) fail(info.Env(), k, std::string(name) + " must be a finite number > 0, got " + std::to_string(v));
  return v;
}

// l2NormalizeForward(x, y, norms, rows, C, eps): norms[r] = |x[r]| (unclamped), y[r] = x[r] / max(norms[r], eps)
void l2_normalize_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "l2NormalizeForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto y = f32_arg(info, 1, k, "y");
  auto norms = f32_arg(info, 2, k, "norms");
  int64_t rows = dim_arg(info, 3, k, "rows", true), C = dim_arg(info, 4, k, "C");
  float eps = static_cast<float>(positive_number_arg(info, 5, k, "eps"));
  expect_length(env, k, "x", x, rows * C);
  expect_length(env, k, "y", y, rows * C);
  expect_length(env, k, "norms", norms, rows);
  parallel_range(rows, row_grain(C), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* in = x.data + r * C;
      double ss = 0.0;
      for (int64_t c = 0; c < C; ++c) ss += static_cast<double>(in[c]) * in[c];
      float norm = static_cast<float>(std::sqrt(ss));
      norms.data[r] = norm;
      float inv = 1.0f / std::max(norm, eps);
      float* out = y.data + r * C;
      for (int64_t c = 0; c < C; ++c) out[c] = in[c] * inv;
    }
  });
}

// l2NormalizeBackward(y, norms, dy, dx, rows, C, eps):
//   dx[r] += (dy[r] - y[r] (y[r] . dy[r])) / norm    when norm > eps (the sphere's tangent part of dy)
//   dx[r] += dy[r] / eps                              when the norm was clamped (y = x / eps is linear in x)
void l2_normalize_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "l2NormalizeBackward";
  Napi::Env env = info.Env();
  auto y = f32_arg(info, 0, k, "y");
  auto norms = f32_arg(info, 1, k, "norms");
  auto dy = f32_arg(info, 2, k, "dy");
  auto dx = f32_arg(info, 3, k, "dx");
  int64_t rows = dim_arg(info, 4, k, "rows", true), C = dim_arg(info, 5, k, "C");
  float eps = static_cast<float>(positive_number_arg(info, 6, k, "eps"));
  expect_length(env, k, "y", y, rows * C);
  expect_length(env, k, "norms", norms, rows);
  expect_length(env, k, "dy", dy, rows * C);
  expect_length(env, k, "dx", dx, rows * C);
  parallel_range(rows, row_grain(C), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* yr = y.data + r * C;
      const float* g = dy.data + r * C;
      float* d = dx.data + r * C;
      float norm = norms.data[r];
      if (!(norm > eps)) {
        float inv = 1.0f / eps;
        for (int64_t c = 0; c < C; ++c) d[c] += g[c] * inv;
        continue;
      }
      double dot = 0.0;
      for (int64_t c = 0; c < C; ++c) dot += static_cast<double>(yr[c]) * g[c];
      float inv = 1.0f / norm, fdot = static_cast<float>(dot);
      for (int64_t c = 0; c < C; ++c) d[c] += (g[c] - yr[c] * fdot) * inv;
    }
  });
}

// Positives index another view of the batch: positives[i] in [0, N) and != i.
void expect_positives(const Napi::Env& env, const char* k, const View<int32_t>& positives, int64_t N) {
  expect_length(env, k, "positives", positives, N);
  for (int64_t i = 0; i < N; ++i) {
    int32_t p = positives.data[i];
    if (p < 0 || p >= N || p == i)
      fail(env, k, "positives[" + std::to_string(i) + "] = " + std::to_string(p) + " must be another row in [0, " +
                       std::to_string(N) + ")");
  }
}

// infoNceForward(sim, positives, probs, N, temperature) -> summed loss over the N rows
//   probs[i, j] = softmax over j != i of sim[i, j] / temperature (0 on the diagonal), kept for the backward.
Napi::Value info_nce_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "infoNceForward";
  Napi::Env env = info.Env();
  auto sim = f32_arg(info, 0, k, "sim");
  auto positives = i32_arg(info, 1, k, "positives");
  auto probs = f32_arg(info, 2, k, "probs");
  int64_t N = dim_arg(info, 3, k, "N");
  double tau = positive_number_arg(info, 4, k, "temperature");
  if (N < 2) fail(env, k, "needs at least 2 views (each row needs a positive), got N = " + std::to_string(N));
  expect_length(env, k, "sim", sim, N * N);
  expect_length(env, k, "probs", probs, N * N);
  expect_positives(env, k, positives, N);
  float inv_tau = static_cast<float>(1.0 / tau);
  std::vector<double> row_loss(N, 0.0);
  parallel_range(N, row_grain(N), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* s = sim.data + i * N;
      float* p = probs.data + i * N;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < N; ++j)
        if (j != i) m = std::max(m, s[j] * inv_tau);
      double sum = 0.0;
      for (int64_t j = 0; j < N; ++j) {
        p[j] = j == i ? 0.0f : std::exp(s[j] * inv_tau - m);
        sum += p[j];
      }
      float inv_sum = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < N; ++j) p[j] *= inv_sum;
      row_loss[i] = static_cast<double>(m) + std::log(sum) - static_cast<double>(s[positives.data[i]]) * inv_tau;
    }
  });
  double total = 0.0;
  for (double l : row_loss) total += l;
  return Napi::Number::New(env, total);
}

// infoNceBackward(probs, positives, gradScale, dsim, N, temperature):
//   dsim[i, j] += gradScale (probs[i, j] - [j == positive(i)]) / temperature   (the diagonal gets nothing)
void info_nce_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "infoNceBackward";
  Napi::Env env = info.Env();
  auto probs = f32_arg(info, 0, k, "probs");
  auto positives = i32_arg(info, 1, k, "positives");
  float scale = static_cast<float>(num_arg(info, 2, k, "gradScale"));
  auto dsim = f32_arg(info, 3, k, "dsim");
  int64_t N = dim_arg(info, 4, k, "N");
  double tau = positive_number_arg(info, 5, k, "temperature");
  expect_length(env, k, "probs", probs, N * N);
  expect_length(env, k, "dsim", dsim, N * N);
  expect_positives(env, k, positives, N);
  float a = static_cast<float>(scale / tau);
  parallel_range(N, row_grain(N), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* p = probs.data + i * N;
      float* d = dsim.data + i * N;
      for (int64_t j = 0; j < N; ++j)
        if (j != i) d[j] += a * p[j];
      d[positives.data[i]] -= a;
    }
  });
}

}  // namespace

void register_contrastive(Napi::Env env, Napi::Object exports) {
  exports.Set("l2NormalizeForward", Napi::Function::New(env, l2_normalize_forward_js, "l2NormalizeForward"));
  exports.Set("l2NormalizeBackward", Napi::Function::New(env, l2_normalize_backward_js, "l2NormalizeBackward"));
  exports.Set("infoNceForward", Napi::Function::New(env, info_nce_forward_js, "infoNceForward"));
  exports.Set("infoNceBackward", Napi::Function::New(env, info_nce_backward_js, "infoNceBackward"));
}

}  // namespace graftrec
