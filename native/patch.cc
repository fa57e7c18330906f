// A PeterRec model patch as one fused kernel pair, position-wise over rows of x[rows, C]:
//   u = x Wd + bd   (Wd [C, D], the bottleneck D = C/4 by default)
//   y = base + GELU(u) Wu + bu   (Wu [D, C]; base = x for a serial patch, another tensor for the parallel and
//                                 residual insertions, or nothing when only the patch's delta is wanted)
// Both passes walk fixed blocks of kPatchRows rows, so a block's x, u, GELU(u) and their gradients stay in cache
// through the two small GEMMs instead of making a full pass over memory per step as separate ops would. The
// GEMMs run on the builtin kernel serially inside each block (they are a few hundred kFLOP each). Forward saves u
// (rows x D); backward recomputes GELU(u). Weight gradients are summed per block and the blocks combined in
// block order, so the result is the same for any thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "args.h"
#include "gelu.h"
#include "gemm.h"
#include "reduce.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

constexpr int64_t kPatchRows = 192;  // a multiple of every GEMM micro-tile height (6, 4): no edge tiles

GRAFTREC_SIMD_CLONES
void gelu_span(const float* __restrict u, float* __restrict a, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) a[i] = gelu_value(u[i]);
}

// a = gelu(u) and da (in place) *= gelu'(u), sharing one tanh per element
GRAFTREC_SIMD_CLONES
void gelu_and_grad_span(const float* __restrict u, float* __restrict a, float* __restrict da, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = u[i];
    const float t = fast_tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
    a[i] = 0.5f * v * (1.f + t);
    da[i] *= 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * (kSqrt2OverPi * (1.f + 3.f * kGeluCubic * v * v));
  }
}

GRAFTREC_SIMD_CLONES
void add_rows(float* __restrict y, const float* __restrict bias, const float* __restrict base, int64_t rows,
              int64_t C) {
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * C;
    if (bias && base) {
      const float* br = base + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] += bias[c] + br[c];
    } else if (bias) {
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] += bias[c];
    } else if (base) {
      const float* br = base + r * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) yr[c] += br[c];
    }
  }
}

// out[c] = sum over rows of x[r, c]
GRAFTREC_SIMD_CLONES
void column_sums(const float* __restrict x, int64_t rows, int64_t C, float* __restrict out) {
  std::fill(out, out + C, 0.f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) out[c] += xr[c];
  }
}

struct PatchShape {
  int64_t rows, C, D;
  int64_t blocks() const { return (rows + kPatchRows - 1) / kPatchRows; }
};

PatchShape read_patch_shape(const Napi::CallbackInfo& info, size_t at, const char* k) {
  return PatchShape{dim_arg(info, at, k, "rows"), dim_arg(info, at + 1, k, "C"), dim_arg(info, at + 2, k, "D")};
}

// patchForward(x, downWeight, downBias|null, upWeight, upBias|null, base|null, hidden, y, rows, C, D)
// hidden receives u = x Wd + bd (rows x D), which patchBackward needs.
void patch_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "patchForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto wd = f32_arg(info, 1, k, "downWeight");
  auto bd = f32_arg(info, 2, k, "downBias", true);
  auto wu = f32_arg(info, 3, k, "upWeight");
  auto bu = f32_arg(info, 4, k, "upBias", true);
  auto base = f32_arg(info, 5, k, "base", true);
  auto hidden = f32_arg(info, 6, k, "hidden");
  auto y = f32_arg(info, 7, k, "y");
  const PatchShape s = read_patch_shape(info, 8, k);
  expect_length(env, k, "x", x, s.rows * s.C);
  expect_length(env, k, "downWeight", wd, s.C * s.D);
  if (bd) expect_length(env, k, "downBias", bd, s.D);
  expect_length(env, k, "upWeight", wu, s.D * s.C);
  if (bu) expect_length(env, k, "upBias", bu, s.C);
  if (base) expect_length(env, k, "base", base, s.rows * s.C);
  expect_length(env, k, "hidden", hidden, s.rows * s.D);
  expect_length(env, k, "y", y, s.rows * s.C);
  if (base.data == y.data || x.data == y.data) fail(env, k, "y must not share memory with x or base");

  const int C = static_cast<int>(s.C), D = static_cast<int>(s.D);
  parallel_for(s.blocks(), [&](int64_t blk) {
    const int64_t r0 = blk * kPatchRows;
    const int R = static_cast<int>(std::min(kPatchRows, s.rows - r0));
    float* u = hidden.data + r0 * D;
    float* a = scratch(0, static_cast<int64_t>(R) * D);
    gemm_builtin(false, false, R, D, C, 1.f, x.data + r0 * C, C, wd.data, D, 0.f, u, D);
    if (bd) add_rows(u, bd.data, nullptr, R, D);
    gelu_span(u, a, static_cast<int64_t>(R) * D);
    float* yb = y.data + r0 * C;
    gemm_builtin(false, false, R, C, D, 1.f, a, D, wu.data, C, 0.f, yb, C);
    add_rows(yb, bu ? bu.data : nullptr, base ? base.data + r0 * C : nullptr, R, C);
  });
}

// patchBackward(x, downWeight, upWeight, hidden, dy, dx|null, dDownWeight|null, dDownBias|null, dUpWeight|null,
//               dUpBias|null, rows, C, D, residual[, dxOverwrite])
// Gradients accumulate (+=), except dx with dxOverwrite, which is written (its previous contents, possibly
// uninitialised, are ignored). With residual, dx also receives dy itself (the serial patch's skip, base = x); the
// gradient of any other base is the caller's (it is dy).
void patch_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "patchBackward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto wd = f32_arg(info, 1, k, "downWeight");
  auto wu = f32_arg(info, 2, k, "upWeight");
  auto hidden = f32_arg(info, 3, k, "hidden");
  auto dy = f32_arg(info, 4, k, "dy");
  auto dx = f32_arg(info, 5, k, "dx", true);
  auto dwd = f32_arg(info, 6, k, "dDownWeight", true);
  auto dbd = f32_arg(info, 7, k, "dDownBias", true);
  auto dwu = f32_arg(info, 8, k, "dUpWeight", true);
  auto dbu = f32_arg(info, 9, k, "dUpBias", true);
  const PatchShape s = read_patch_shape(info, 10, k);
  const bool residual = bool_arg(info, 13, k, "residual");
  const bool dx_overwrite = optional_bool_arg(info, 14, k, "dxOverwrite");
  expect_length(env, k, "x", x, s.rows * s.C);
  expect_length(env, k, "downWeight", wd, s.C * s.D);
  expect_length(env, k, "upWeight", wu, s.D * s.C);
  expect_length(env, k, "hidden", hidden, s.rows * s.D);
  expect_length(env, k, "dy", dy, s.rows * s.C);
  if (dx) expect_length(env, k, "dx", dx, s.rows * s.C);
  if (dwd) expect_length(env, k, "dDownWeight", dwd, s.C * s.D);
  if (dbd) expect_length(env, k, "dDownBias", dbd, s.D);
  if (dwu) expect_length(env, k, "dUpWeight", dwu, s.D * s.C);
  if (dbu) expect_length(env, k, "dUpBias", dbu, s.C);
  if (dx && dx.data == dy.data) fail(env, k, "dx must not share memory with dy");
  if (!dx && !dwd && !dbd && !dwu && !dbu) return;

  const int C = static_cast<int>(s.C), D = static_cast<int>(s.D);
  // Per-block partial weight gradients: [dWd (C*D) | dbd (D) | dWu (D*C) | dbu (C)].
  const int64_t part_size = 2 * s.C * s.D + s.C + s.D;
  const bool want_params = dwd || dbd || dwu || dbu;
  float* parts = want_params ? scratch(2, s.blocks() * part_size) : nullptr;
  parallel_for(s.blocks(), [&](int64_t blk) {
    const int64_t r0 = blk * kPatchRows;
    const int R = static_cast<int>(std::min(kPatchRows, s.rows - r0));
    const int64_t RD = static_cast<int64_t>(R) * D;
    const float* u = hidden.data + r0 * D;
    const float* xb = x.data + r0 * C;
    const float* dyb = dy.data + r0 * C;
    float* a = scratch(0, RD);
    float* du = scratch(1, RD);
    // du = (dy Wu^T) * gelu'(u)
    gemm_builtin(false, true, R, D, C, 1.f, dyb, C, wu.data, C, 0.f, du, D);
    gelu_and_grad_span(u, a, du, RD);
    if (want_params) {
      float* p = parts + blk * part_size;
      if (dwd) gemm_builtin(true, false, C, D, R, 1.f, xb, C, du, D, 0.f, p, D);
      if (dbd) column_sums(du, R, D, p + s.C * s.D);
      if (dwu) {
        gemm_builtin(true, false, D, C, R, 1.f, a, D, dyb, C, 0.f, p + s.C * s.D + s.D, C);
      }
      if (dbu) column_sums(dyb, R, C, p + 2 * s.C * s.D + s.D);
    }
    if (dx) {
      float* dxb = dx.data + r0 * C;
      float beta = 1.f;
      if (residual && dx_overwrite) std::copy(dyb, dyb + static_cast<int64_t>(R) * C, dxb);
      else if (residual) add_rows(dxb, nullptr, dyb, R, C);
      else if (dx_overwrite) beta = 0.f;
      gemm_builtin(false, true, R, C, D, 1.f, du, D, wd.data, D, beta, dxb, C);
    }
  });
  if (!want_params) return;
  auto combine = [&](float* out, int64_t offset, int64_t n) {
    if (!out) return;
    for (int64_t i = 0; i < n; ++i) {
      float sum = 0.f;
      for (int64_t b = 0; b < s.blocks(); ++b) sum += parts[b * part_size + offset + i];
      out[i] += sum;
    }
  };
  combine(dwd.data, 0, s.C * s.D);
  combine(dbd.data, s.C * s.D, s.D);
  combine(dwu.data, s.C * s.D + s.D, s.D * s.C);
  combine(dbu.data, 2 * s.C * s.D + s.D, s.C);
}

}  // namespace

void register_patch(Napi::Env env, Napi::Object exports) {
  exports.Set("patchForward", Napi::Function::New(env, patch_forward_js, "patchForward"));
  exports.Set("patchBackward", Napi::Function::New(env, patch_backward_js, "patchBackward"));
}

}  // namespace graftrec
