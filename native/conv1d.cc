// Dilated 1-D convolution over channels-last sequences x[B, L, Cin] with weights w[K, Cin, Cout] (tap-major,
// so w viewed as [K*Cin, Cout] multiplies an im2col row directly).
//   causal:  tap j reads position t - (K-1-j)*d   (left padding (K-1)*d: no look-ahead)
//   centred: tap j reads position t + (j - (K-1)/2)*d   (K odd; "SAME" padding)
// Forward builds im2col rows [B*L, K*Cin] in scratch and runs ONE GEMM with inner dimension K*Cin, which uses
// the GEMM kernel better than K separate GEMMs with inner dimension Cin; the copy is small and memory-bound.
// Backward accumulates (+=) into whichever of dx, dw, db are given, so frozen weights cost no GEMM at all.
// Optional starts[B]: sequence b's first real position; the positions before it are left padding, which reads as
// zeros and whose outputs are the bias alone (their rows are not computed), so a sequence's real outputs are the
// same whatever its padding — a batch can be padded to its own longest sequence instead of a fixed length.
#include <algorithm>
#include <cstring>
#include <vector>

#include "args.h"
#include "simd.h"
#include "gemm.h"
#include "reduce.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct ConvShape {
  int64_t B, L, Cin, Cout, K, dilation;
  bool causal;
  const int32_t* start = nullptr;  // [B] first real position of each sequence, or null (no padding)
  int64_t rows() const { return B * L; }
  int64_t col_width() const { return K * Cin; }
  int64_t offset(int64_t tap) const { return causal ? (tap - (K - 1)) * dilation : (tap - (K - 1) / 2) * dilation; }
  int64_t first(int64_t b) const { return start ? start[b] : 0; }
};

GRAFTREC_SIMD_CLONES
void add_row(float* __restrict out, const float* __restrict in, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) out[c] += in[c];
}

void im2col(const ConvShape& s, const float* x, float* col) {
  parallel_range(s.rows(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      int64_t b = n / s.L, t = n % s.L, first = s.first(b);
      float* out = col + n * s.col_width();
      for (int64_t j = 0; j < s.K; ++j) {
        int64_t src = t + s.offset(j);
        if (t >= first && src >= first && src < s.L)
          std::memcpy(out + j * s.Cin, x + (b * s.L + src) * s.Cin, sizeof(float) * s.Cin);
        else
          std::memset(out + j * s.Cin, 0, sizeof(float) * s.Cin);
      }
    }
  });
}

// dx[b, t + off_j, :] += dcol[(b,t), j, :]. Parallel over batch items: each owns its own rows of dx, and within
// a batch item the order of additions is fixed, so the result is deterministic.
void col2im_accumulate(const ConvShape& s, const float* dcol, float* dx) {
  parallel_range(s.B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      for (int64_t t = s.first(b); t < s.L; ++t) {
        const float* in = dcol + (b * s.L + t) * s.col_width();
        for (int64_t j = 0; j < s.K; ++j) {
          int64_t dst = t + s.offset(j);
          if (dst < s.first(b) || dst >= s.L) continue;
          add_row(dx + (b * s.L + dst) * s.Cin, in + j * s.Cin, s.Cin);
        }
      }
  });
}

// With the builtin GEMM the im2col gather happens inside the kernel (gemm.h: conv_gemm_rows, conv_gemm_weight);
// a system BLAS gets the explicit im2col copy.
bool fused_gather() { return gemm_backend() == GemmBackend::Builtin || deterministic(); }

std::vector<int64_t> offsets(const ConvShape& s, int64_t sign) {
  std::vector<int64_t> off(s.K);
  for (int64_t j = 0; j < s.K; ++j) off[j] = sign * s.offset(j);
  return off;
}

ConvGather gather(const ConvShape& s, const float* src, int64_t seg, const std::vector<int64_t>& off) {
  return ConvGather{src, s.rows(), s.L, (int)s.K, (int)seg, off.data(), s.start};
}

ConvShape read_shape(const Napi::CallbackInfo& info, size_t first, const char* k) {
  ConvShape s;
  s.B = dim_arg(info, first, k, "B");
  s.L = dim_arg(info, first + 1, k, "L");
  s.Cin = dim_arg(info, first + 2, k, "Cin");
  s.Cout = dim_arg(info, first + 3, k, "Cout");
  s.K = dim_arg(info, first + 4, k, "kernelSize");
  s.dilation = dim_arg(info, first + 5, k, "dilation");
  s.causal = bool_arg(info, first + 6, k, "causal");
  if (!s.causal && s.K % 2 == 0) fail(info.Env(), k, "a centred convolution needs an odd kernel size");
  auto starts = i32_arg(info, first + 7, k, "starts", true);
  if (starts) {
    expect_length(info.Env(), k, "starts", starts, s.B);
    expect_ids_in_range(info.Env(), k, "starts", starts, s.L + 1);
    s.start = starts.data;
  }
  return s;
}

// conv1dForward(x, w, bias|null, y, B, L, Cin, Cout, K, dilation, causal[, starts|null])
void conv1d_forward_js(const Napi::CallbackInfo& info) {
  const char* k = "conv1dForward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto w = f32_arg(info, 1, k, "weight");
  auto bias = f32_arg(info, 2, k, "bias", true);
  auto y = f32_arg(info, 3, k, "y");
  ConvShape s = read_shape(info, 4, k);
  expect_length(env, k, "x", x, s.rows() * s.Cin);
  expect_length(env, k, "weight", w, s.K * s.Cin * s.Cout);
  if (bias) expect_length(env, k, "bias", bias, s.Cout);
  expect_length(env, k, "y", y, s.rows() * s.Cout);

  if (fused_gather()) {
    const std::vector<int64_t> off = offsets(s, 1);
    conv_gemm_rows(gather(s, x.data, s.Cin, off), (int)s.Cout, w.data, s.Cin * s.Cout, (int)s.Cout, false, 0.f,
                   bias ? bias.data : nullptr, y.data, (int)s.Cout);
    return;
  }
  float* col = scratch(0, s.rows() * s.col_width());
  im2col(s, x.data, col);
  gemm(false, false, (int)s.rows(), (int)s.Cout, (int)s.col_width(), 1.f, col, (int)s.col_width(), w.data,
       (int)s.Cout, 0.f, y.data, (int)s.Cout);
  if (bias) {
    parallel_range(s.rows(), 1024, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n)
        for (int64_t c = 0; c < s.Cout; ++c) y.data[n * s.Cout + c] += bias.data[c];
    });
  }
}

// conv1dBackward(x, w, dy, dx|null, dw|null, dbias|null, B, L, Cin, Cout, K, dilation, causal[, starts|null,
//                dxOverwrite])
// With dxOverwrite, dx is written (its previous contents, possibly uninitialised, are ignored) instead of
// accumulated into.
void conv1d_backward_js(const Napi::CallbackInfo& info) {
  const char* k = "conv1dBackward";
  Napi::Env env = info.Env();
  auto x = f32_arg(info, 0, k, "x");
  auto w = f32_arg(info, 1, k, "weight");
  auto dy = f32_arg(info, 2, k, "dy");
  auto dx = f32_arg(info, 3, k, "dx", true);
  auto dw = f32_arg(info, 4, k, "dweight", true);
  auto db = f32_arg(info, 5, k, "dbias", true);
  ConvShape s = read_shape(info, 6, k);
  const bool dx_overwrite = optional_bool_arg(info, 14, k, "dxOverwrite");
  expect_length(env, k, "x", x, s.rows() * s.Cin);
  expect_length(env, k, "weight", w, s.K * s.Cin * s.Cout);
  expect_length(env, k, "dy", dy, s.rows() * s.Cout);
  if (dx) expect_length(env, k, "dx", dx, s.rows() * s.Cin);
  if (dw) expect_length(env, k, "dweight", dw, s.K * s.Cin * s.Cout);
  if (db) expect_length(env, k, "dbias", db, s.Cout);

  if (fused_gather()) {
    const std::vector<int64_t> off = offsets(s, 1), back = offsets(s, -1);
    if (dw) conv_gemm_weight(gather(s, x.data, s.Cin, off), dy.data, (int)s.Cout, dw.data);
    if (db) sum_rows_accumulate(dy.data, s.rows(), s.Cout, db.data);
    // dx[n] += sum_j dy[n - off_j] * W_j^T: the same gathered product with the offsets negated.
    if (dx)
      conv_gemm_rows(gather(s, dy.data, s.Cout, back), (int)s.Cin, w.data, s.Cin * s.Cout, (int)s.Cout, true,
                     dx_overwrite ? 0.f : 1.f, nullptr, dx.data, (int)s.Cin);
    return;
  }
  if (dw) {
    float* col = scratch(0, s.rows() * s.col_width());
    im2col(s, x.data, col);
    gemm(true, false, (int)s.col_width(), (int)s.Cout, (int)s.rows(), 1.f, col, (int)s.col_width(), dy.data,
         (int)s.Cout, 1.f, dw.data, (int)s.Cout);
  }
  if (db) sum_rows_accumulate(dy.data, s.rows(), s.Cout, db.data);
  if (dx) {
    float* dcol = scratch(1, s.rows() * s.col_width());
    gemm(false, true, (int)s.rows(), (int)s.col_width(), (int)s.Cout, 1.f, dy.data, (int)s.Cout, w.data,
         (int)s.Cout, 0.f, dcol, (int)s.col_width());
    if (dx_overwrite) std::fill(dx.data, dx.data + s.rows() * s.Cin, 0.f);
    col2im_accumulate(s, dcol, dx.data);
  }
}

}  // namespace

void register_conv1d(Napi::Env env, Napi::Object exports) {
  exports.Set("conv1dForward", Napi::Function::New(env, conv1d_forward_js, "conv1dForward"));
  exports.Set("conv1dBackward", Napi::Function::New(env, conv1d_backward_js, "conv1dBackward"));
}

}  // namespace graftrec
