// A GRU layer's recurrence over whole left-padded sequences (PyTorch's gate order r, z, n). The input
// projections gx = x W_ih + b_ih [B, L, 3H] are one GEMM made by the caller; this kernel adds the hidden side:
//   gh = h_{t-1} W_hh + b_hh                       (W_hh [H, 3H], b_hh [3H])
//   r = sigmoid(gx_r + gh_r),  z = sigmoid(gx_z + gh_z),  n = tanh(gx_n + r * gh_n)
//   h_t = (1 - z) * n + z * h_{t-1}
// Sequence b's positions before starts[b] are left padding: their h is 0, the recurrence starts from h = 0 at
// starts[b], and they get no gradient. Forward saves (r, z, n, gh_n) per position [B, L, 4H]; backward (BPTT)
// reads them with the outputs h. The recurrence runs one time step at a time over the whole batch, so the
// hidden side of a step is one GEMM over all B sequences ([B, H] x [H, 3H] forward, [B, 3H] x [3H, H]
// backward) instead of B matrix-vector products; the GEMM reads h_{t-1} straight out of `out` (row stride
// L * H), where left padding holds zeros, so a sequence's first item sees the zero state. The gate arithmetic of
// a step is split over sequences, each task writing only its own rows, so results are the same for any thread
// count. dW_hh and db_hh are summed after the recurrence from a [B * L, 3H] buffer of hidden-side gate
// gradients, in a fixed order.
#include <cmath>
#include <vector>

#include "args.h"
#include "fast_math.h"
#include "gemm.h"
#include "simd.h"
#include "thread_pool.h"

namespace graftrec {
namespace {

struct GruShape {
  int64_t B, L, H;
  int64_t positions() const { return B * L; }
};

GruShape read_gru_shape(const Napi::CallbackInfo& info, size_t at, const char* k) {
  GruShape s{dim_arg(info, at, k, "B"), dim_arg(info, at + 1, k, "L"), dim_arg(info, at + 2, k, "H")};
  if (static_cast<double>(s.B) * s.L * s.H * 4 > 9007199254740992.0 || static_cast<double>(s.H) * 3 > 2147483647.0)
    fail(info.Env(), k, "shape too large");
  return s;
}

void check_starts(const Napi::Env& env, const char* k, const View<int32_t>& starts, const GruShape& s) {
  expect_length(env, k, "starts", starts, s.B);
  for (int64_t b = 0; b < s.B; ++b)
    if (starts.data[b] < 0 || starts.data[b] > s.L)
      fail(env, k, "starts[" + std::to_string(b) + "] = " + std::to_string(starts.data[b]) + " is outside [0, L]");
}

// The gates through the vectorisable fast_exp: libm's expf and tanhf are scalar calls, and three of them per hidden
// unit and position were the largest cost of a GRU4Rec training step.
inline float sigmoid(float x) { return 1.f / (1.f + fast_exp(-x)); }

// tanh(a) = sign(a) (1 - e^{-2|a|}) / (1 + e^{-2|a|}): no overflow for large |a|.
inline float tanh_fast(float a) {
  const float e = fast_exp(-2.f * std::fabs(a));
  const float t = (1.f - e) / (1.f + e);
  return a < 0.f ? -t : t;
}

// One position's gates and output: x = its input side [3H], g = its hidden side [3H], hprev = h_{t-1} (zeros at a
// sequence's first item); writes h [H] and saves (r, z, n, gh_n) [4H].
GRAFTREC_SIMD_CLONES
void gru_cell(const float* x, const float* g, const float* hprev, float* h, float* sv, int64_t H) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const float r = sigmoid(x[j] + g[j]);
    const float z = sigmoid(x[H + j] + g[H + j]);
    const float n = tanh_fast(x[2 * H + j] + r * g[2 * H + j]);
    h[j] = (1.f - z) * n + z * hprev[j];
    sv[j] = r;
    sv[H + j] = z;
    sv[2 * H + j] = n;
    sv[3 * H + j] = g[2 * H + j];
  }
}

// gruForward(gx, whh, bhh, starts, out, saved, B, L, H)
void gru_forward_js(const Napi::CallbackInfo& info) {
  const char* kn = "gruForward";
  Napi::Env env = info.Env();
  auto gx = f32_arg(info, 0, kn, "gx");
  auto whh = f32_arg(info, 1, kn, "whh");
  auto bhh = f32_arg(info, 2, kn, "bhh");
  auto starts = i32_arg(info, 3, kn, "starts");
  auto out = f32_arg(info, 4, kn, "out");
  auto saved = f32_arg(info, 5, kn, "saved");
  const GruShape s = read_gru_shape(info, 6, kn);
  const int64_t H = s.H, G = 3 * H;
  expect_length(env, kn, "gx", gx, s.positions() * G);
  expect_length(env, kn, "whh", whh, H * G);
  expect_length(env, kn, "bhh", bhh, G);
  expect_length(env, kn, "out", out, s.positions() * H);
  expect_length(env, kn, "saved", saved, s.positions() * 4 * H);
  check_starts(env, kn, starts, s);

  const int64_t B = s.B, L = s.L;
  const int ldo = static_cast<int>(L * H);
  std::vector<float> gh(B * G);
  const std::vector<float> zeros(H, 0.f);
  for (int64_t t = 0; t < L; ++t) {
    // gh = b_hh + h_{t-1} W_hh for every sequence (h_{t-1} = 0 at a first item and in padding).
    for (int64_t b = 0; b < B; ++b) std::copy(bhh.data, bhh.data + G, gh.data() + b * G);
    if (t > 0)
      gemm(false, false, static_cast<int>(B), static_cast<int>(G), static_cast<int>(H), 1.f, out.data + (t - 1) * H, ldo,
           whh.data, static_cast<int>(G), 1.f, gh.data(), static_cast<int>(G));
    parallel_for(B, [&](int64_t b) {
      const int64_t row = b * L + t;
      float* h = out.data + row * H;
      float* sv = saved.data + row * 4 * H;
      if (t < starts.data[b]) {
        std::fill(h, h + H, 0.f);
        std::fill(sv, sv + 4 * H, 0.f);
        return;
      }
      const float* hprev = t > starts.data[b] ? h - H : zeros.data();
      gru_cell(gx.data + row * G, gh.data() + b * G, hprev, h, sv, H);
    });
  }
}

// gruBackward(whh, out, saved, starts, dout, dgx|null, dwhh|null, dbhh|null, B, L, H)
// Accumulates (+=) into the gradients given; null ones are skipped.
void gru_backward_js(const Napi::CallbackInfo& info) {
  const char* kn = "gruBackward";
  Napi::Env env = info.Env();
  auto whh = f32_arg(info, 0, kn, "whh");
  auto out = f32_arg(info, 1, kn, "out");
  auto saved = f32_arg(info, 2, kn, "saved");
  auto starts = i32_arg(info, 3, kn, "starts");
  auto dout = f32_arg(info, 4, kn, "dout");
  auto dgx = f32_arg(info, 5, kn, "dgx", true);
  auto dwhh = f32_arg(info, 6, kn, "dwhh", true);
  auto dbhh = f32_arg(info, 7, kn, "dbhh", true);
  const GruShape s = read_gru_shape(info, 8, kn);
  const int64_t H = s.H, G = 3 * H;
  expect_length(env, kn, "whh", whh, H * G);
  expect_length(env, kn, "out", out, s.positions() * H);
  expect_length(env, kn, "saved", saved, s.positions() * 4 * H);
  expect_length(env, kn, "dout", dout, s.positions() * H);
  if (dgx) expect_length(env, kn, "dgx", dgx, s.positions() * G);
  if (dwhh) expect_length(env, kn, "dwhh", dwhh, H * G);
  if (dbhh) expect_length(env, kn, "dbhh", dbhh, G);
  check_starts(env, kn, starts, s);
  if (!dgx && !dwhh && !dbhh) return;

  // Per position: the gradient of gh (zero at padding) and h_{t-1} (zero at a sequence's first item and at
  // padding), so that dW_hh = hprev^T dgh is one product.
  const bool weights = dwhh || dbhh;
  const int64_t B = s.B, L = s.L;
  std::vector<float> dgh(s.positions() * G, 0.f), hprev_all(dwhh ? s.positions() * H : 0, 0.f);
  // dh: the gradient reaching h_t from later steps; carry: dh_t * z, then + dgh W_hh^T = dh_{t-1}.
  std::vector<float> dh(B * H, 0.f);
  const int ldg = static_cast<int>(L * G);
  for (int64_t t = L - 1; t >= 0; --t) {
    parallel_for(B, [&](int64_t b) {
      const int64_t start = starts.data[b];
      float* carry = dh.data() + b * H;
      if (t < start) return;  // padding: its dgh row stays zero, so the GEMM below adds nothing to this row
      const int64_t row = b * L + t;
      const float* sv = saved.data + row * 4 * H;
      const float* hprev = t > start ? out.data + (row - 1) * H : nullptr;
      const float* d = dout.data + row * H;
      float* g = dgh.data() + row * G;
      for (int64_t j = 0; j < H; ++j) {
        const float dhj = carry[j] + d[j];
        const float r = sv[j], z = sv[H + j], n = sv[2 * H + j], ghn = sv[3 * H + j];
        const float hp = hprev ? hprev[j] : 0.f;
        const float dan = dhj * (1.f - z) * (1.f - n * n);
        g[j] = dan * ghn * r * (1.f - r);
        g[H + j] = dhj * (hp - n) * z * (1.f - z);
        g[2 * H + j] = dan * r;
        if (dgx) {
          float* dx = dgx.data + row * G;
          dx[j] += g[j];
          dx[H + j] += g[H + j];
          dx[2 * H + j] += dan;
        }
        carry[j] = dhj * z;
      }
      if (dwhh && hprev) std::copy(hprev, hprev + H, hprev_all.begin() + row * H);
    });
    // dh_{t-1} = dh_t * z + dgh_t W_hh^T for every sequence at once (rows of padding add zeros).
    if (t > 0)
      gemm(false, true, static_cast<int>(B), static_cast<int>(H), static_cast<int>(G), 1.f, dgh.data() + t * G, ldg,
           whh.data, static_cast<int>(G), 1.f, dh.data(), static_cast<int>(H));
  }
  if (!weights) return;
  if (dwhh)
    gemm(true, false, static_cast<int>(H), static_cast<int>(G), static_cast<int>(s.positions()), 1.f, hprev_all.data(),
         static_cast<int>(H), dgh.data(), static_cast<int>(G), 1.f, dwhh.data, static_cast<int>(G));
  if (dbhh)
    for (int64_t row = 0; row < s.positions(); ++row)
      for (int64_t j = 0; j < G; ++j) dbhh.data[j] += dgh[row * G + j];
}

}  // namespace

void register_gru(Napi::Env env, Napi::Object exports) {
  exports.Set("gruForward", Napi::Function::New(env, gru_forward_js, "gruForward"));
  exports.Set("gruBackward", Napi::Function::New(env, gru_backward_js, "gruBackward"));
}

}  // namespace graftrec
