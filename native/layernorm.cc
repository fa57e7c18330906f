// Layer normalisation over the last dimension, optionally fused with the ReLU that follows it in every NextItNet
// block and with the residual add that closes the block (each saves one full pass over the activations).
//   y = act(gamma * (x - mean) * rstd + beta) [+ residual],  rstd = 1 / sqrt(var + eps)
// Forward saves mean and rstd per row. Backward needs the ReLU's mask: it takes the forward output y (without a
// residual) or beta, and then recomputes gamma * xhat + beta > 0 from the x it reads anyway.
#include <algorithm>
#include <cmath>
#include <vector>

#include "args.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kRowChunk = 256;

GRAFTREC_SIMD_CLONES
void layernorm_forward_rows(const float* x, const float* gamma, const float* beta, const float* res, float* y,
                            float* mean, float* rstd, int64_t begin, int64_t end, int64_t C, double eps, bool relu) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    // Two-pass mean/variance in float: rows are short (C channels), so the error stays far below eps scale.
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; ++c) s += xr[c];
    const float m = s / C;
    float ss = 0.f;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; ++c) ss += (xr[c] - m) * (xr[c] - m);
    const float rs = static_cast<float>(1.0 / std::sqrt(static_cast<double>(ss) / C + eps));
    mean[r] = m;
    rstd[r] = rs;
    if (relu && res) {
      const float* rr = res + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] = std::max(0.f, gamma[c] * ((xr[c] - m) * rs) + beta[c]) + rr[c];
    } else if (res) {
      const float* rr = res + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] = gamma[c] * ((xr[c] - m) * rs) + beta[c] + rr[c];
    } else if (relu) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] = std::max(0.f, gamma[c] * ((xr[c] - m) * rs) + beta[c]);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] = gamma[c] * ((xr[c] - m) * rs) + beta[c];
    }
  }
}

// Rows [begin, end) of the backward pass. g and xhat are C-float scratch rows; pg (2C floats: dgamma then dbeta
// partial sums) and dx may be null. dx is accumulated into, or written when dx_overwrite is set.
GRAFTREC_SIMD_CLONES
void layernorm_backward_rows(const float* x, const float* gamma, const float* mean, const float* rstd, const float* y,
                             const float* mask_beta, const float* dy, float* dx, float* pg, float* g, float* xhat, int64_t begin, int64_t end,
                             int64_t C, bool dx_overwrite) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    const float* dyr = dy + r * C;
    const float m = mean[r], rs = rstd[r];
    // Separate branch-free loops: a per-element test of the ReLU mask is a coin flip the branch predictor
    // loses half the time.
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) xhat[c] = (xr[c] - m) * rs;
    if (mask_beta) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const float d = dyr[c];  // same expression as the forward, so the same mask
        g[c] = gamma[c] * xhat[c] + mask_beta[c] > 0.f ? d : 0.f;
      }
    } else if (y) {
      const float* yr = y + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        const float d = dyr[c];  // loaded unconditionally so the select vectorises
        g[c] = yr[c] > 0.f ? d : 0.f;
      }
    } else {
      std::copy(dyr, dyr + C, g);
    }
    if (pg) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        pg[c] += g[c] * xhat[c];
        pg[C + c] += g[c];
      }
    }
    if (dx) {
      float sum_dxhat = 0.f, sum_dxhat_xhat = 0.f;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
      for (int64_t c = 0; c < C; ++c) {
        float dxhat = g[c] * gamma[c];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat[c];
      }
      const float a = sum_dxhat / C, b = sum_dxhat_xhat / C;
      float* dxr = dx + r * C;
      if (dx_overwrite) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) dxr[c] = rs * (g[c] * gamma[c] - a - xhat[c] * b);
      } else {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) dxr[c] += rs * (g[c] * gamma[c] - a - xhat[c] * b);
      }
    }
  }
}

// layerNormForward(x, gamma, beta, y, mean, rstd, rows, C, eps, relu[, residual])
void layernorm_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "layerNormForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto gamma = f32_arg(info, 1, k, "gamma");
  auto beta = f32_arg(info, 2, k, "beta");
  auto y = f32_arg(info, 3, k, "y");
  auto mean = f32_arg(info, 4, k, "mean");
  auto rstd = f32_arg(info, 5, k, "rstd");
  int64_t rows = dim_arg(info, 6, k, "rows"), C = dim_arg(info, 7, k, "C");
  double eps = num_arg(info, 8, k, "eps");
  bool relu = bool_arg(info, 9, k, "relu");
  auto res = f32_arg(info, 10, k, "residual", true);
  if (res) expect_length(env, k, "residual", res, rows * C);
  expect_length(env, k, "x", x, rows * C);
  expect_length(env, k, "gamma", gamma, C);
  expect_length(env, k, "beta", beta, C);
  expect_length(env, k, "y", y, rows * C);
  expect_length(env, k, "mean", mean, rows);
  expect_length(env, k, "rstd", rstd, rows);

  parallel_range(rows, 64, [&](int64_t begin, int64_t end) {
    layernorm_forward_rows(x.data, gamma.data, beta.data, res ? res.data : nullptr, y.data, mean.data, rstd.data,
                           begin, end, C, eps, relu);
  });
}

// layerNormBackward(x, gamma, mean, rstd, y|null, dy, dx|null, dgamma|null, dbeta|null, rows, C[, dxOverwrite[,
//                   reluBeta]])
// When the ReLU was fused, its mask comes from reluBeta (the forward's beta: the mask is recomputed) or else from
// y, the forward output without residual; with neither, there was no ReLU. The residual's gradient is the caller's. Gradients accumulate (+=), except dx with
// dxOverwrite, which is written (its previous contents, possibly uninitialised, are ignored).
void layernorm_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "layerNormBackward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto gamma = f32_arg(info, 1, k, "gamma");
  auto mean = f32_arg(info, 2, k, "mean");
  auto rstd = f32_arg(info, 3, k, "rstd");
  auto y = f32_arg(info, 4, k, "y", true);
  auto dy = f32_arg(info, 5, k, "dy");
  auto dx = f32_arg(info, 6, k, "dx", true);
  auto dgamma = f32_arg(info, 7, k, "dgamma", true);
  auto dbeta = f32_arg(info, 8, k, "dbeta", true);
  int64_t rows = dim_arg(info, 9, k, "rows"), C = dim_arg(info, 10, k, "C");
  const bool dx_overwrite = optional_bool_arg(info, 11, k, "dxOverwrite");
  auto relu_beta = f32_arg(info, 12, k, "reluBeta", true);
  if (relu_beta) expect_length(env, k, "reluBeta", relu_beta, C);
  expect_length(env, k, "x", x, rows * C);
  expect_length(env, k, "gamma", gamma, C);
  expect_length(env, k, "mean", mean, rows);
  expect_length(env, k, "rstd", rstd, rows);
  if (y) expect_length(env, k, "y", y, rows * C);
  expect_length(env, k, "dy", dy, rows * C);
  if (dx) expect_length(env, k, "dx", dx, rows * C);
  if (dgamma) expect_length(env, k, "dgamma", dgamma, C);
  if (dbeta) expect_length(env, k, "dbeta", dbeta, C);

  bool want_params = dgamma || dbeta;
  int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
  // Per-chunk partial sums for dgamma/dbeta, combined in chunk order: deterministic for any thread count.
  std::vector<float> partial(want_params ? chunks * 2 * C : 0, 0.f);
  parallel_for(chunks, [&](int64_t ch) {
    std::vector<float> g(C), xhat(C);
    float* pg = want_params ? partial.data() + ch * 2 * C : nullptr;
    layernorm_backward_rows(x.data, gamma.data, mean.data, rstd.data, y ? y.data : nullptr,
                            relu_beta ? relu_beta.data : nullptr, dy.data,
                            dx ? dx.data : nullptr, pg, g.data(), xhat.data(), ch * kRowChunk,
                            std::min(rows, (ch + 1) * kRowChunk), C, dx_overwrite);
  });
  if (want_params) {
    for (int64_t c = 0; c < C; ++c) {
      double sg = 0, sb = 0;
      for (int64_t ch = 0; ch < chunks; ++ch) {
        sg += partial[ch * 2 * C + c];
        sb += partial[ch * 2 * C + C + c];
      }
      if (dgamma) dgamma.data[c] += static_cast<float>(sg);
      if (dbeta) dbeta.data[c] += static_cast<float>(sb);
    }
  }
}

}  // namespace

void register_layernorm(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormForward", Napi::Function::New(env, layernorm_forward_js, "layerNormForward"));
  exports.Set("layerNormBackward", Napi::Function::New(env, layernorm_backward_js, "layerNormBackward"));
}

}  // namespace graftrec
