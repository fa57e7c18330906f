// Layer normalisation over the last dimension, optionally fused with the ReLU that follows it in every NextItNet
// block and with the residual add that closes the block (each saves one full pass over the activations).
//   y = act(gamma * (x - mean) * rstd + beta) [+ residual],  rstd = 1 / sqrt(var + eps)
// Forward saves mean and rstd per row. Backward needs the ReLU's mask: it takes the forward output y (without a
// residual) or else beta, and recomputes gamma * xhat + beta > 0 from the x it reads anyway.
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
  // Row statistics four rows at a time: one row's reductions and its sqrt are a chain of dependent operations,
  // so interleaving independent rows hides their latency. A short last group repeats its last row, so every row
  // goes through the same code (its statistics never depend on how rows were split between threads).
  for (int64_t r0 = begin; r0 < end; r0 += 4) {
    const float* xs[4];
    for (int i = 0; i < 4; ++i) xs[i] = x + std::min(r0 + i, end - 1) * C;
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    // Two-pass mean/variance in float: rows are short (C channels), so the error stays far below eps scale.
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t c = 0; c < C; ++c) {
      s0 += x0[c];
      s1 += x1[c];
      s2 += x2[c];
      s3 += x3[c];
    }
    const float m0 = s0 / C, m1 = s1 / C, m2 = s2 / C, m3 = s3 / C;
    float q0 = 0.f, q1 = 0.f, q2 = 0.f, q3 = 0.f;
#pragma omp simd reduction(+ : q0, q1, q2, q3)
    for (int64_t c = 0; c < C; ++c) {
      q0 += (x0[c] - m0) * (x0[c] - m0);
      q1 += (x1[c] - m1) * (x1[c] - m1);
      q2 += (x2[c] - m2) * (x2[c] - m2);
      q3 += (x3[c] - m3) * (x3[c] - m3);
    }
    const float ms[4] = {m0, m1, m2, m3}, qs[4] = {q0, q1, q2, q3};
    const int64_t n = std::min<int64_t>(4, end - r0);
    for (int64_t i = 0; i < n; ++i) {
      mean[r0 + i] = ms[i];
      rstd[r0 + i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(qs[i]) / C + eps));
    }
    // y for the group's rows while they are still in L1.
    for (int64_t r = r0; r < r0 + n; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const float m = mean[r], rs = rstd[r];
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
}

// Row r's xhat and incoming gradient (ReLU mask applied) into xhat and g (C floats each).
inline __attribute__((always_inline)) void backward_row_inputs(const float* x, const float* gamma, const float* mean,
                                                               const float* rstd, const float* y,
                                                               const float* mask_beta, const float* dy, int64_t r,
                                                               int64_t C, float* g, float* xhat) {
  const float* xr = x + r * C;
  const float* dyr = dy + r * C;
  const float m = mean[r], rs = rstd[r];
  // Separate branch-free loops: a per-element test of the ReLU mask is a coin flip the branch predictor loses
  // half the time.
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
}

// dx of row r given its sums a = mean(dxhat), b = mean(dxhat * xhat).
inline __attribute__((always_inline)) void backward_row_dx(const float* gamma, const float* g, const float* xhat,
                                                           float rs, float a, float b, float* dxr, int64_t C,
                                                           bool dx_overwrite) {
  if (dx_overwrite) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dxr[c] = rs * (g[c] * gamma[c] - a - xhat[c] * b);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dxr[c] += rs * (g[c] * gamma[c] - a - xhat[c] * b);
  }
}

// Rows [begin, end) of the backward pass. g and xhat are 4C-float scratch; pg (2C floats: dgamma then dbeta
// partial sums) and dx may be null. dx is accumulated into, or written when dx_overwrite is set. Rows go four
// at a time (independent reductions interleaved, as in the forward), the last begin..end % 4 rows one by one:
// begin is a fixed chunk boundary, so which rows are grouped never depends on the thread count.
GRAFTREC_SIMD_CLONES
void layernorm_backward_rows(const float* x, const float* gamma, const float* mean, const float* rstd, const float* y,
                             const float* mask_beta, const float* dy, float* dx, float* pg, float* g, float* xhat,
                             int64_t begin, int64_t end, int64_t C, bool dx_overwrite) {
  int64_t r = begin;
  for (; r + 4 <= end; r += 4) {
    for (int64_t i = 0; i < 4; ++i)
      backward_row_inputs(x, gamma, mean, rstd, y, mask_beta, dy, r + i, C, g + i * C, xhat + i * C);
    const float *g0 = g, *g1 = g + C, *g2 = g + 2 * C, *g3 = g + 3 * C;
    const float *h0 = xhat, *h1 = xhat + C, *h2 = xhat + 2 * C, *h3 = xhat + 3 * C;
    if (pg) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        pg[c] += (g0[c] * h0[c] + g1[c] * h1[c]) + (g2[c] * h2[c] + g3[c] * h3[c]);
        pg[C + c] += (g0[c] + g1[c]) + (g2[c] + g3[c]);
      }
    }
    if (dx) {
      float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f, b0 = 0.f, b1 = 0.f, b2 = 0.f, b3 = 0.f;
#pragma omp simd reduction(+ : a0, a1, a2, a3, b0, b1, b2, b3)
      for (int64_t c = 0; c < C; ++c) {
        const float d0 = g0[c] * gamma[c], d1 = g1[c] * gamma[c], d2 = g2[c] * gamma[c], d3 = g3[c] * gamma[c];
        a0 += d0;
        a1 += d1;
        a2 += d2;
        a3 += d3;
        b0 += d0 * h0[c];
        b1 += d1 * h1[c];
        b2 += d2 * h2[c];
        b3 += d3 * h3[c];
      }
      backward_row_dx(gamma, g0, h0, rstd[r], a0 / C, b0 / C, dx + r * C, C, dx_overwrite);
      backward_row_dx(gamma, g1, h1, rstd[r + 1], a1 / C, b1 / C, dx + (r + 1) * C, C, dx_overwrite);
      backward_row_dx(gamma, g2, h2, rstd[r + 2], a2 / C, b2 / C, dx + (r + 2) * C, C, dx_overwrite);
      backward_row_dx(gamma, g3, h3, rstd[r + 3], a3 / C, b3 / C, dx + (r + 3) * C, C, dx_overwrite);
    }
  }
  for (; r < end; ++r) {
    backward_row_inputs(x, gamma, mean, rstd, y, mask_beta, dy, r, C, g, xhat);
    if (pg) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) {
        pg[c] += g[c] * xhat[c];
        pg[C + c] += g[c];
      }
    }
    if (dx) {
      float a = 0.f, b = 0.f;
#pragma omp simd reduction(+ : a, b)
      for (int64_t c = 0; c < C; ++c) {
        const float d = g[c] * gamma[c];
        a += d;
        b += d * xhat[c];
      }
      backward_row_dx(gamma, g, xhat, rstd[r], a / C, b / C, dx + r * C, C, dx_overwrite);
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
    std::vector<float> g(4 * C), xhat(4 * C);
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
